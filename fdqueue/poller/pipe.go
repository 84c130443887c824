//go:build linux || dragonfly || freebsd || netbsd || openbsd || solaris

package poller

import (
	"os"

	"golang.org/x/sys/unix"
)

// newPipe makes a non-blocking, close-on-exec pipe in one step, so that a
// concurrent fork cannot inherit it.
func newPipe() (r, w int, err error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		return -1, -1, os.NewSyscallError("pipe2", err)
	}
	return p[0], p[1], nil
}
