package poller

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// newPipe makes a non-blocking, close-on-exec pipe. Darwin has no pipe2,
// so the fork lock keeps a concurrent fork from inheriting the descriptors
// before they are marked close-on-exec, as Go's own os.Pipe does.
func newPipe() (r, w int, err error) {
	var p [2]int
	syscall.ForkLock.RLock()
	err = unix.Pipe(p[:])
	if err == nil {
		unix.CloseOnExec(p[0])
		unix.CloseOnExec(p[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, -1, os.NewSyscallError("pipe", err)
	}
	if err = setNonblock(p[0], p[1]); err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return -1, -1, err
	}
	return p[0], p[1], nil
}

// setNonblock makes both pipe ends non-blocking.
func setNonblock(fds ...int) error {
	for _, fd := range fds {
		if err := unix.SetNonblock(fd, true); err != nil {
			return os.NewSyscallError("fcntl", err)
		}
	}
	return nil
}
