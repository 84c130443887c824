package main

import (
	"fmt"
	"io"
	"net"
	"net/netip"

	"github.com/lwtask/lwtask"
	"golang.org/x/sys/unix"
)

// messages are sent in turn on both sockets.
var messages = []string{
	"This is the message. ",
	"It will be sent ",
	"in parts.",
}

// client is the seed's client: it connects two sockets, then sends each
// message on both before it reads the replies on both, so the server has
// two connections in play at once.
func client(t *lwtask.Task, rt *lwtask.Runtime, addr string, out io.Writer) error {
	host, port, _ := net.SplitHostPort(addr)
	fmt.Fprintf(out, "connecting to %s port %s\n", host, port)
	var socks []*lwtask.Conn
	for range 2 {
		c, err := rt.Dial(t, "tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		socks = append(socks, c)
	}
	for _, message := range messages {
		for _, s := range socks {
			fmt.Fprintf(out, "%s: sending %q\n", localAddr(s), message)
			if err := send(t, s, []byte(message)); err != nil {
				return err
			}
		}
		for _, s := range socks {
			if err := receive(t, s, len(message), out); err != nil {
				return err
			}
		}
	}
	return nil
}

// receive reads the echo of a message of n bytes. The seed's client takes
// what one recv returns, which is usually the whole echo but need not be;
// waiting for all n bytes prints the same thing every time.
func receive(t *lwtask.Task, s *lwtask.Conn, n int, out io.Writer) error {
	data := make([]byte, n)
	if _, err := s.ReadFull(t, data); err != nil {
		fmt.Fprintln(out, "closing socket", localAddr(s))
		return err
	}
	fmt.Fprintf(out, "%s: received %q\n", localAddr(s), data)
	return nil
}

// localAddr is the seed's s.getsockname(): the client's end of s, which
// the server reports as the connection's peer.
func localAddr(s *lwtask.Conn) string {
	sa, err := unix.Getsockname(s.Fd())
	if err != nil {
		return "?"
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)).String()
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)).String()
	}
	return "?"
}
