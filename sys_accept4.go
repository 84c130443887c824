//go:build freebsd || dragonfly

package lwtask

import "golang.org/x/sys/unix"

// accept takes a connection, non-blocking and close-on-exec in one call.
func accept(fd int) (int, unix.Sockaddr, error) {
	return unix.Accept4(fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
}

// socket makes a non-blocking, close-on-exec stream socket.
func socket(domain int) (int, error) {
	return unix.Socket(domain, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
}
