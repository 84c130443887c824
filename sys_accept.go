//go:build !(linux || freebsd || dragonfly)

package lwtask

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// accept takes a connection and makes it non-blocking and close-on-exec.
// The fork lock keeps a concurrent exec from inheriting it in between.
func accept(fd int) (int, unix.Sockaddr, error) {
	syscall.ForkLock.RLock()
	nfd, sa, err := unix.Accept(fd)
	if err == nil {
		unix.CloseOnExec(nfd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, nil, err
	}
	if err := unix.SetNonblock(nfd, true); err != nil {
		unix.Close(nfd)
		return -1, nil, err
	}
	return nfd, sa, nil
}

// socket makes a non-blocking, close-on-exec stream socket.
func socket(domain int) (int, error) {
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(domain, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}
