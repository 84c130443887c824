package lwtask

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// File is a non-blocking descriptor read and written by tasks: a call that
// would block parks the calling task on the descriptor's queue and lets the
// others run. Sockets, pipes and terminals all work; the essay's sock_write
// and friends are its methods. A File belongs to the runtime that made it.
type File struct {
	rt            *Runtime
	fd            int
	name          string
	socket        bool // write with send(MSG_NOSIGNAL): a vanished peer gives EPIPE, never SIGPIPE
	closed        bool
	readDeadline  time.Time
	writeDeadline time.Time
	onClose       func() // undoes what adopting the descriptor changed
}

// NewFile adopts fd, which the File then owns: it is made non-blocking and
// close-on-exec, and closed by Close.
func (r *Runtime) NewFile(fd int, name string) (*File, error) {
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, fmt.Errorf("lwtask: %s: %w", name, err)
	}
	unix.CloseOnExec(fd)
	_, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	return &File{rt: r, fd: fd, name: name, socket: err == nil}, nil
}

// Adopt makes a File from a copy of the descriptor behind c: an *os.File, a
// net.Conn, a net.Listener's file. The original stays usable and must be
// closed separately. The copy shares the open file with the original, so
// both become non-blocking.
func (r *Runtime) Adopt(c syscall.Conn, name string) (*File, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("lwtask: adopt %s: %w", name, err)
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
		return nil, fmt.Errorf("lwtask: adopt %s: %w", name, err)
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
// fail with ErrTimeout. A zero time means none.
func (f *File) SetDeadline(d time.Time) { f.readDeadline, f.writeDeadline = d, d }

// SetReadDeadline sets the deadline of future reads.
func (f *File) SetReadDeadline(d time.Time) { f.readDeadline = d }

// SetWriteDeadline sets the deadline of future writes.
func (f *File) SetWriteDeadline(d time.Time) { f.writeDeadline = d }

// Read reads up to len(p) bytes, parking t until some are available. It
// returns io.EOF at end of file.
func (f *File) Read(t *Task, p []byte) (int, error) {
	for {
		n, err := f.tryRead(p)
		if err != unix.EAGAIN {
			return n, err
		}
		if err := f.waitReadable(t); err != nil {
			return 0, err
		}
	}
}

// tryRead is one read that does not park: it returns EAGAIN (unwrapped)
// when nothing is available yet.
func (f *File) tryRead(p []byte) (int, error) {
	if f.closed {
		return 0, f.wrap("read", ErrClosed)
	}
	for {
		n, err := unix.Read(f.fd, p)
		switch {
		case err == nil && n == 0 && len(p) > 0:
			return 0, io.EOF
		case err == nil:
			return n, nil
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, err
		}
		return 0, f.wrap("read", err)
	}
}

func (f *File) waitReadable(t *Task) error {
	if err := f.rt.fds.WaitReadable(t, f.fd, f.readDeadline); err != nil {
		return f.wrap("read", err)
	}
	return nil
}

// Write writes all of p, parking t while the descriptor cannot take more.
// It returns the number of bytes written, less than len(p) only with an
// error.
func (f *File) Write(t *Task, p []byte) (int, error) {
	written := 0
	for written < len(p) {
		if f.closed {
			return written, f.wrap("write", ErrClosed)
		}
		n, err := f.write(p[written:])
		switch {
		case err == nil:
			written += n
			continue
		case err == unix.EINTR:
			continue
		case err != unix.EAGAIN:
			return written, f.wrap("write", err)
		}
		if err := f.rt.fds.WaitWritable(t, f.fd, f.writeDeadline); err != nil {
			return written, f.wrap("write", err)
		}
	}
	return written, nil
}

func (f *File) write(p []byte) (int, error) {
	if f.socket {
		return unix.SendmsgN(f.fd, p, nil, nil, unix.MSG_NOSIGNAL)
	}
	return unix.Write(f.fd, p)
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
	if err := f.rt.fds.CloseFd(f.fd); err != nil {
		return f.wrap("close", err)
	}
	return nil
}

// CloseWrite shuts down the writing side of a socket, so that the peer
// reads EOF while the reading side stays open.
func (f *File) CloseWrite() error {
	if err := unix.Shutdown(f.fd, unix.SHUT_WR); err != nil {
		return f.wrap("shutdown", err)
	}
	return nil
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

// wrap adds what failed, and where, to err, keeping it testable with
// errors.Is (ErrClosed, ErrTimeout, syscall errors such as ECONNRESET).
func (f *File) wrap(op string, err error) error {
	if errors.Is(err, io.EOF) {
		return err
	}
	return &os.PathError{Op: op, Path: f.name, Err: err}
}
