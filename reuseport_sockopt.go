//go:build !solaris

package lwtask

import "golang.org/x/sys/unix"

// setReusePort lets several sockets bind one address (SO_REUSEPORT).
func setReusePort(fd int) error {
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
}
