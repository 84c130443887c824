package lwtask

import (
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// File is a non-blocking descriptor read and written by tasks: a call that
// would block parks the calling task on the descriptor's queue and lets the
// others run. Sockets, pipes and terminals all work; the essay's sock_write
// and friends are its methods. A File belongs to the Runtime that made it,
// and must be used by that Runtime's tasks only.
type File struct {
	rt            *Runtime
	fd            int
	name          string
	network       string // a socket's network ("tcp", "unix"), for its errors; "" if not a socket
	stream        bool   // a socket or a pipe: a short read means the kernel has no more
	laddr, raddr  net.Addr
	closed        bool
	readDeadline  time.Time
	writeDeadline time.Time
	onClose       func() // undoes what adopting the descriptor changed
}

// NewFile adopts fd, which the File then owns: it is made non-blocking and
// close-on-exec, and closed by Close. name labels the File in errors.
func (r *Runtime) NewFile(fd int, name string) (*File, error) {
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, &os.PathError{Op: "set non-blocking", Path: name, Err: err}
	}
	unix.CloseOnExec(fd)
	f := &File{rt: r, fd: fd, name: name}
	r.fds.Adopt(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) == nil {
		f.stream = st.Mode&unix.S_IFMT == unix.S_IFIFO || st.Mode&unix.S_IFMT == unix.S_IFSOCK
	}
	if _, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err == nil {
		f.network = "tcp"
		sa, _ := unix.Getsockname(fd)
		if _, ok := sa.(*unix.SockaddrUnix); ok {
			f.network = "unix"
		}
		f.laddr = sockaddrToAddr(sa)
		if peer, err := unix.Getpeername(fd); err == nil {
			f.raddr = sockaddrToAddr(peer)
		}
	}
	return f, nil
}

// Adopt makes a File from a copy of the descriptor behind c: an *os.File, a
// net.Conn, a net.Listener's file. The original stays usable and must be
// closed separately. The copy shares the open file with the original, so
// both become non-blocking.
func (r *Runtime) Adopt(c syscall.Conn, name string) (*File, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, &os.PathError{Op: "adopt", Path: name, Err: err}
	}
	var fd int
	var dupErr error
	err = raw.Control(func(orig uintptr) {
		fd, dupErr = unix.FcntlInt(orig, unix.F_DUPFD_CLOEXEC, 0)
	})
	if err == nil {
		err = dupErr
	}
	if err != nil {
		return nil, &os.PathError{Op: "adopt", Path: name, Err: err}
	}
	f, err := r.NewFile(fd, name)
	if err != nil {
		unix.Close(fd)
	}
	return f, err
}

// Stdin returns standard input as a File. Standard input usually shares its
// open file with the terminal or the parent shell, so Close puts it back in
// blocking mode.
func (r *Runtime) Stdin() (*File, error) {
	f, err := r.Adopt(os.Stdin, "stdin")
	if err != nil {
		return nil, err
	}
	f.onClose = func() { unix.SetNonblock(0, false) }
	return f, nil
}

// Fd returns the descriptor number.
func (f *File) Fd() int { return f.fd }

// Name returns the name the File was opened with.
func (f *File) Name() string { return f.name }

// SetDeadline sets the deadline of future reads and writes; past it they
// fail with ErrTimeout. The zero time means none.
func (f *File) SetDeadline(d time.Time) { f.readDeadline, f.writeDeadline = d, d }

// SetReadDeadline sets the deadline of future reads.
func (f *File) SetReadDeadline(d time.Time) { f.readDeadline = d }

// SetWriteDeadline sets the deadline of future writes.
func (f *File) SetWriteDeadline(d time.Time) { f.writeDeadline = d }

// Read reads up to len(p) bytes, parking t until some are available. It
// returns io.EOF at end of file.
func (f *File) Read(t *Task, p []byte) (int, error) {
	if err := f.rt.enter(t, "Read"); err != nil {
		return 0, f.wrap("read", err)
	}
	for {
		n, err := f.read(p)
		if err != unix.EAGAIN {
			return n, f.wrap("read", err)
		}
		if err := f.rt.fds.WaitReadable(t, f.fd, f.readDeadline); err != nil {
			return 0, f.wrap("read", err)
		}
	}
}

// TryRead is Read for a raw step, which must not suspend: when no input is
// ready it parks t until some is and returns ErrAgain, and so it does,
// without reading, when t's turn is spent. Either way the step returns
// Yield and calls TryRead again at its next step. Past the read deadline it
// fails with ErrTimeout.
func (f *File) TryRead(t *Task, p []byte) (int, error) {
	if err := f.rt.tryEnter(t, "TryRead"); err != nil {
		return 0, f.wrapAgain("read", err)
	}
	n, err := f.read(p)
	if err == unix.EAGAIN {
		return 0, f.park(t, "read", f.readDeadline, f.rt.fds.BlockForReading)
	}
	return n, f.wrap("read", err)
}

// park parks t on f for a raw step's operation, or says why it cannot.
func (f *File) park(t *Task, op string, deadline time.Time, block func(*Task, int, time.Time) error) error {
	if !deadline.IsZero() && !f.rt.Now().Before(deadline) {
		return f.wrap(op, ErrTimeout)
	}
	if err := block(t, f.fd, deadline); err != nil {
		return f.wrap(op, err)
	}
	return ErrAgain
}

// read is one read that does not park: it returns EAGAIN, bare, when
// nothing is available yet, or when the last read found f drained and the
// poller has not reported it readable since (fdqueue's Drained), without
// the read that would find nothing.
func (f *File) read(p []byte) (int, error) {
	if f.closed {
		return 0, ErrClosed
	}
	fds := f.rt.fds
	if len(p) > 0 && !fds.MayRead(f.fd) {
		return 0, unix.EAGAIN
	}
	for {
		var n int
		var err error
		if f.network != "" {
			n, err = sysRead(f.fd, p)
		} else {
			n, err = unix.Read(f.fd, p)
		}
		switch {
		case err == nil && n == 0 && len(p) > 0:
			return 0, io.EOF
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			fds.Drained(f.fd)
			return 0, err
		case err != nil:
			return 0, err
		}
		if n < len(p) && f.stream {
			fds.Drained(f.fd) // a stream gives all it has: no more is there
		}
		return n, nil
	}
}

// Write writes all of p, parking t while the descriptor cannot take more.
// It returns the number of bytes written, less than len(p) only with an
// error.
func (f *File) Write(t *Task, p []byte) (int, error) {
	if err := f.rt.enter(t, "Write"); err != nil {
		return 0, f.wrap("write", err)
	}
	written := 0
	for {
		n, err := f.writeNow(p[written:])
		written += n
		if err == unix.EAGAIN {
			err = f.rt.fds.WaitWritable(t, f.fd, f.writeDeadline)
		}
		if err != nil || written == len(p) {
			return written, f.wrap("write", err)
		}
	}
}

// TryWrite is Write for a raw step, which must not suspend: it writes what
// the descriptor takes now and returns how much. If that is not all of p,
// it parks t until the descriptor can take more and returns ErrAgain
// (also when t's turn is spent, having written nothing): the step returns
// Yield and writes the rest at its next step.
func (f *File) TryWrite(t *Task, p []byte) (int, error) {
	if err := f.rt.tryEnter(t, "TryWrite"); err != nil {
		return 0, f.wrapAgain("write", err)
	}
	written, err := f.writeNow(p)
	if err == unix.EAGAIN {
		return written, f.park(t, "write", f.writeDeadline, f.rt.fds.BlockForWriting)
	}
	return written, f.wrap("write", err)
}

// writeNow writes as much of p as the descriptor takes without waiting:
// all of it, or what it took before an error (EAGAIN when full, bare).
func (f *File) writeNow(p []byte) (int, error) {
	written := 0
	for written < len(p) {
		n, err := f.write(p[written:])
		written += n
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// write is one write that does not park. Sockets are written with
// send(MSG_NOSIGNAL): a vanished peer gives EPIPE, never SIGPIPE.
func (f *File) write(p []byte) (int, error) {
	if f.closed {
		return 0, ErrClosed
	}
	for {
		var n int
		var err error
		if f.network != "" {
			n, err = sysSend(f.fd, p)
		} else {
			n, err = unix.Write(f.fd, p)
		}
		if err == unix.EINTR {
			continue
		}
		return max(n, 0), err
	}
}

// Close closes the descriptor. Tasks parked on it wake with ErrClosed, and
// later calls fail with ErrClosed.
func (f *File) Close() error {
	if f.closed {
		return f.wrap("close", ErrClosed)
	}
	f.closed = true
	if f.onClose != nil {
		f.onClose()
	}
	return f.wrap("close", f.rt.fds.CloseFd(f.fd))
}

// CloseWrite shuts down the writing side of a socket, so that the peer
// reads EOF while the reading side stays open.
func (f *File) CloseWrite() error {
	if f.closed {
		return f.wrap("close write", ErrClosed)
	}
	return f.wrap("close write", unix.Shutdown(f.fd, unix.SHUT_WR))
}

// For binds f to the task that uses it, as an io.ReadWriter, so that bufio,
// encoding/json and the rest of the standard library work inside a task.
// The result must be used only by t.
func (f *File) For(t *Task) io.ReadWriter { return boundFile{f, t} }

type boundFile struct {
	f *File
	t *Task
}

func (b boundFile) Read(p []byte) (int, error)  { return b.f.Read(b.t, p) }
func (b boundFile) Write(p []byte) (int, error) { return b.f.Write(b.t, p) }

// wrap adds the operation and the file to err, once, the way package os and
// package net do: a socket's errors are *net.OpErrors naming its addresses,
// any other's (an unnamed socket's too) *os.PathErrors naming the file.
// io.EOF is returned bare, as io.Reader's contract wants, and nil stays nil.
func (f *File) wrap(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	return f.wrapError(op, err)
}

// wrapError is wrap's work, kept out of line: inlined into every call site
// of wrap, it made the frames of the read and write paths twice as big, and
// those frames are what a connection's coroutine stack must hold.
//
//go:noinline
func (f *File) wrapError(op string, err error) error {
	if f.laddr != nil || f.raddr != nil {
		return &net.OpError{Op: op, Net: f.network, Source: f.laddr, Addr: f.raddr, Err: err}
	}
	return &os.PathError{Op: op, Path: f.name, Err: err}
}

// wrapAgain is wrap, except for ErrAgain, which a raw step compares with ==.
func (f *File) wrapAgain(op string, err error) error {
	if err == ErrAgain {
		return err
	}
	return f.wrap(op, err)
}

// String describes the File for messages: its name and descriptor.
func (f *File) String() string { return fmt.Sprintf("%s (fd %d)", f.name, f.fd) }
