package lwtask

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The system calls on sockets, which are all non-blocking, are made raw:
// a raw call skips the Go scheduler's bookkeeping for calls that may block
// (entersyscall and exitsyscall, about 5% of a busy server's CPU), which
// these cannot do. The Go runtime then also has no reason to take the
// processor away from the event loop's thread during one.

func sysRead(fd int, p []byte) (int, error) {
	r, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(bufPtr(p)), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// sysSend writes p to a socket with send(MSG_NOSIGNAL): a vanished peer
// gives EPIPE, never SIGPIPE.
func sysSend(fd int, p []byte) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(bufPtr(p)), uintptr(len(p)), unix.MSG_NOSIGNAL, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// accept takes a connection, non-blocking and close-on-exec in one call.
func accept(fd int) (int, unix.Sockaddr, error) {
	var rsa unix.RawSockaddrAny
	n := uint32(unix.SizeofSockaddrAny)
	r, _, e := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&n)),
		unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if e != 0 {
		return -1, nil, e
	}
	return int(r), fromRaw(&rsa), nil
}

// fromRaw converts the address accept filled in; nil for a family it does
// not know, which only names the connection.
func fromRaw(rsa *unix.RawSockaddrAny) unix.Sockaddr {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		raw := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		sa := &unix.SockaddrInet4{Addr: raw.Addr}
		p := (*[2]byte)(unsafe.Pointer(&raw.Port))
		sa.Port = int(p[0])<<8 + int(p[1])
		return sa
	case unix.AF_INET6:
		raw := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		sa := &unix.SockaddrInet6{Addr: raw.Addr, ZoneId: raw.Scope_id}
		p := (*[2]byte)(unsafe.Pointer(&raw.Port))
		sa.Port = int(p[0])<<8 + int(p[1])
		return sa
	case unix.AF_UNIX:
		raw := (*unix.RawSockaddrUnix)(unsafe.Pointer(rsa))
		n := 0
		for n < len(raw.Path) && raw.Path[n] != 0 {
			n++
		}
		path := make([]byte, n)
		for i := range n {
			path[i] = byte(raw.Path[i])
		}
		return &unix.SockaddrUnix{Name: string(path)}
	}
	return nil
}

// socket makes a non-blocking, close-on-exec stream socket.
func socket(domain int) (int, error) {
	return unix.Socket(domain, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
}

func bufPtr(p []byte) unsafe.Pointer {
	if len(p) == 0 {
		return nil
	}
	return unsafe.Pointer(&p[0])
}
