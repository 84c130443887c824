//go:build !linux

package lwtask

import "golang.org/x/sys/unix"

// Elsewhere than Linux the system calls on sockets go through x/sys/unix,
// with the Go scheduler's usual bookkeeping; see sys_linux.go.

func sysRead(fd int, p []byte) (int, error) { return unix.Read(fd, p) }

// sysSend writes p to a socket with MSG_NOSIGNAL: a vanished peer gives
// EPIPE, never SIGPIPE.
func sysSend(fd int, p []byte) (int, error) {
	return unix.SendmsgN(fd, p, nil, nil, unix.MSG_NOSIGNAL)
}
