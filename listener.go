package lwtask

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Back-off after accept fails for lack of descriptors or memory: the
// listener stays readable, so retrying at once would spin the CPU.
const (
	minAcceptBackoff = 5 * time.Millisecond
	maxAcceptBackoff = time.Second
)

// Listener accepts connections for tasks: the essay's sock_accept, made
// robust.
type Listener struct {
	f       *File
	addr    net.Addr
	unlink  string // a Unix socket's path, removed by Close
	backoff time.Duration
	resting Queue // Accepts waiting out a back-off; Close cuts it short

	// OnTemporaryError, if set, is called when accept fails for want of
	// descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM), with how
	// long Accept waits before it tries again. Accept never returns such
	// errors: the listener goes on serving once resources come back.
	OnTemporaryError func(err error, retryIn time.Duration)
}

// Listen listens on a TCP ("tcp", "tcp4", "tcp6") or Unix ("unix") address,
// as net.Listen does. The address is resolved with the standard library,
// before any task runs.
func (r *Runtime) Listen(network, address string) (*Listener, error) {
	if err := checkNetwork("listen", network); err != nil {
		return nil, err
	}
	nl, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	return r.adoptListener(nl, true)
}

// AdoptListener makes a Listener from a copy of l's descriptor; l stays
// open and must be closed separately.
func (r *Runtime) AdoptListener(l net.Listener) (*Listener, error) {
	return r.adoptListener(l, false)
}

func (r *Runtime) adoptListener(nl net.Listener, own bool) (*Listener, error) {
	sc, ok := nl.(syscall.Conn)
	if !ok {
		return nil, &net.OpError{Op: "adopt", Net: nl.Addr().Network(), Addr: nl.Addr(), Err: fmt.Errorf("%T has no descriptor", nl)}
	}
	l := &Listener{addr: nl.Addr()}
	if ul, ok := nl.(*net.UnixListener); ok && own {
		// The socket file must outlive Go's listener, closed just below.
		ul.SetUnlinkOnClose(false)
		l.unlink = l.addr.String()
	}
	f, err := r.Adopt(sc, "listener "+l.addr.String())
	if own {
		nl.Close()
	}
	if err != nil {
		return nil, err
	}
	l.f = f
	return l, nil
}

// Addr returns the address the listener is bound to.
func (l *Listener) Addr() net.Addr { return l.addr }

// SetDeadline sets the deadline of future Accepts; past it they fail with
// ErrTimeout. A zero time means none.
func (l *Listener) SetDeadline(d time.Time) { l.f.readDeadline = d }

// Fd returns the listening descriptor.
func (l *Listener) Fd() int { return l.f.fd }

// Close stops listening. Tasks parked in Accept wake with ErrClosed.
func (l *Listener) Close() error {
	l.resting.WakeAll(ErrClosed)
	err := l.f.Close()
	if l.unlink != "" {
		os.Remove(l.unlink)
		l.unlink = ""
	}
	return err
}

// Accept waits for a connection and returns it, non-blocking and
// close-on-exec, with the peer's address.
func (l *Listener) Accept(t *Task) (*Conn, error) {
	if err := l.f.rt.enter(t, "Accept"); err != nil {
		return nil, l.f.wrap("accept", err)
	}
	for {
		c, err := l.accept()
		switch {
		case err == unix.EAGAIN:
			err = l.f.rt.fds.WaitReadable(t, l.f.fd, l.f.readDeadline)
		case isResourceShortage(err):
			err = l.waitForResources(t, err)
		default:
			return c, l.f.wrap("accept", err)
		}
		if err != nil {
			return nil, l.f.wrap("accept", err)
		}
	}
}

// TryAccept is Accept for a raw step, which must not suspend: with no
// connection pending, or the process out of descriptors, it parks t until
// it should try again and returns ErrAgain, as it does when t's turn is
// spent. The step returns Yield and calls TryAccept again at its next
// step.
func (l *Listener) TryAccept(t *Task) (*Conn, error) {
	if err := l.f.rt.tryEnter(t, "TryAccept"); err != nil {
		return nil, l.f.wrapAgain("accept", err)
	}
	c, err := l.accept()
	switch {
	case err == unix.EAGAIN:
		return nil, l.f.park(t, "accept", l.f.readDeadline, l.f.rt.fds.BlockForReading)
	case isResourceShortage(err):
		l.backOff(err)
		if err := t.BlockUntil(&l.resting, t.Now().Add(l.backoff)); err != nil {
			return nil, l.f.wrap("accept", err)
		}
		return nil, ErrAgain
	}
	return c, l.f.wrap("accept", err)
}

// accept takes one pending connection, if any, without waiting. It returns
// EAGAIN and resource shortages bare.
func (l *Listener) accept() (*Conn, error) {
	for {
		if l.f.closed {
			return nil, ErrClosed
		}
		fd, sa, err := accept(l.f.fd)
		switch {
		case err == nil:
			l.backoff = 0
			return l.newConn(fd, sa), nil
		case err == unix.EINTR || err == unix.ECONNABORTED:
			continue
		}
		return nil, err
	}
}

func isResourceShortage(err error) bool {
	return err == unix.EMFILE || err == unix.ENFILE || err == unix.ENOBUFS || err == unix.ENOMEM
}

// waitForResources sleeps, not watching the listener, 5 ms doubling to a
// second, as net/http does. Close ends the sleep with ErrClosed.
func (l *Listener) waitForResources(t *Task, err error) error {
	l.backOff(err)
	err = t.WaitUntil(&l.resting, t.Now().Add(l.backoff))
	if errors.Is(err, ErrTimeout) {
		return nil
	}
	return err
}

// backOff lengthens the back-off after accept failed with err, and says so.
func (l *Listener) backOff(err error) {
	l.backoff = min(max(2*l.backoff, minAcceptBackoff), maxAcceptBackoff)
	if l.OnTemporaryError != nil {
		l.OnTemporaryError(l.f.wrap("accept", err), l.backoff)
	}
	if l.resting.Label == "" {
		l.resting.Label = "accept back-off on " + l.addr.String()
	}
}

func (l *Listener) newConn(fd int, sa unix.Sockaddr) *Conn {
	f := &File{rt: l.f.rt, fd: fd, network: l.f.network, stream: true, laddr: l.addr, raddr: sockaddrToAddr(sa)}
	f.rt.fds.Adopt(fd)
	if _, ok := sa.(*unix.SockaddrUnix); ok || f.raddr == nil {
		f.name = "connection on " + l.addr.String()
	} else {
		f.name = "connection from " + f.raddr.String()
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
	return &Conn{f: f}
}

func sockaddrToAddr(sa unix.Sockaddr) net.Addr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: append(net.IP(nil), a.Addr[:]...), Port: a.Port}
	case *unix.SockaddrInet6:
		addr := &net.TCPAddr{IP: append(net.IP(nil), a.Addr[:]...), Port: a.Port}
		if a.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(a.ZoneId)); err == nil {
				addr.Zone = ifi.Name
			}
		}
		return addr
	case *unix.SockaddrUnix:
		if a.Name == "" || a.Name == "@" { // unnamed: a socketpair's, or a client's
			return nil
		}
		return &net.UnixAddr{Name: a.Name, Net: "unix"}
	}
	return nil
}

// Dial connects to a TCP or Unix address, parking t while the connection is
// being made. Host names are resolved with the standard library, which may
// block the scheduler: dial addresses where that matters.
func (r *Runtime) Dial(t *Task, network, address string) (*Conn, error) {
	if err := r.enter(t, "Dial"); err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	if err := checkNetwork("dial", network); err != nil {
		return nil, err
	}
	sa, domain, err := resolve(network, address)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	raddr := sockaddrToAddr(sa)
	fd, err := socket(domain)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Addr: raddr, Err: os.NewSyscallError("socket", err)}
	}
	kind := "tcp"
	if domain == unix.AF_UNIX {
		kind = "unix"
	}
	f := &File{rt: r, fd: fd, name: "connection to " + address, network: kind, stream: true, raddr: raddr}
	r.fds.Adopt(fd)
	// The socket is closed on every way out but success: a failed connect,
	// and also a task ended (killed, or its runtime stopping) while it
	// waits for the connection, whose wait unwinds instead of returning.
	connected := false
	defer func() {
		if !connected {
			f.Close()
		}
	}()
	if err := f.connect(t, sa); err != nil {
		return nil, err
	}
	connected = true
	if lsa, err := unix.Getsockname(fd); err == nil {
		f.laddr = sockaddrToAddr(lsa)
	}
	if domain != unix.AF_UNIX {
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
	return &Conn{f: f}, nil
}

// checkNetwork refuses the networks lwtask cannot serve, with the error
// package net gives for an unknown one, so that Listen and Dial say the
// same.
func checkNetwork(op, network string) error {
	switch network {
	case "tcp", "tcp4", "tcp6", "unix":
		return nil
	}
	return &net.OpError{Op: op, Net: network, Err: net.UnknownNetworkError(network)}
}

func resolve(network, address string) (unix.Sockaddr, int, error) {
	if network == "unix" {
		return &unix.SockaddrUnix{Name: address}, unix.AF_UNIX, nil
	}
	ta, err := net.ResolveTCPAddr(network, address)
	if err != nil {
		return nil, 0, err
	}
	if ip4 := ta.IP.To4(); ip4 != nil && network != "tcp6" {
		sa := &unix.SockaddrInet4{Port: ta.Port}
		copy(sa.Addr[:], ip4)
		return sa, unix.AF_INET, nil
	}
	if ta.IP == nil { // ":port" means this host, as with net.Dial
		return &unix.SockaddrInet4{Port: ta.Port, Addr: [4]byte{127, 0, 0, 1}}, unix.AF_INET, nil
	}
	sa := &unix.SockaddrInet6{Port: ta.Port}
	copy(sa.Addr[:], ta.IP.To16())
	return sa, unix.AF_INET6, nil
}

// connect starts a non-blocking connect and parks t until it completes.
func (f *File) connect(t *Task, sa unix.Sockaddr) error {
	err := unix.Connect(f.fd, sa)
	for err == unix.EINTR {
		err = unix.Connect(f.fd, sa)
	}
	switch err {
	case nil, unix.EISCONN:
		return nil
	case unix.EINPROGRESS, unix.EALREADY:
	default:
		return f.wrap("dial", err)
	}
	if err := f.rt.fds.WaitWritable(t, f.fd, f.writeDeadline); err != nil {
		return f.wrap("dial", err)
	}
	soErr, err := unix.GetsockoptInt(f.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err == nil && soErr != 0 {
		err = unix.Errno(soErr)
	}
	if err != nil {
		return f.wrap("dial", err)
	}
	return nil
}
