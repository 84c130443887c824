package poller

import (
	"os"

	"golang.org/x/sys/unix"
)

// newWaker makes an eventfd: one descriptor instead of a pipe's two, and
// its counter cannot fill up.
func newWaker() (*waker, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("eventfd", err)
	}
	return &waker{rfd: fd, wfd: fd}, nil
}
