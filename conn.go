package lwtask

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lwtask/lwtask/task"
)

// Buffer sizes. An idle connection holds no buffer: its read buffer goes
// back to the runtime while it waits for input, and its write buffer once
// flushed, so ten thousand idle connections cost ten thousand small structs.
const (
	bufferSize = 8 << 10 // a read buffer, and the first write buffer
	// DefaultMaxLine is the longest line ReadLine accepts unless
	// Conn.MaxLine says otherwise.
	DefaultMaxLine = 4096
	// writeHighWater is how much output Write gathers before it flushes:
	// a peer that never reads can cost the server no more than this.
	writeHighWater = 64 << 10
)

// Conn is a buffered connection (a socket, a pipe, a terminal): the
// essay's sock_readline and sock_write, made robust. Lines are read up to a
// maximum length; output is gathered and written in as few system calls as
// the descriptor allows, so a reply of many lines goes out together. Pending
// output is flushed before a read waits for input, when the buffer reaches
// 64 KiB, and by Flush. One task may read a Conn while others write it: a
// read then leaves the output to the task already flushing it, if any.
//
// Close does not wait: it sends what the descriptor takes at once and
// reports what it could not send (ErrUnsent). Call Flush first to send
// everything.
type Conn struct {
	// MaxLine is the longest line ReadLine returns, without its line
	// ending; 0 means DefaultMaxLine.
	MaxLine int

	f        *File
	rbuf     []byte // input is rbuf[r:w]
	r, w     int
	wbuf     []byte // output not yet written
	werr     error  // the write error that broke the connection: every later write gets it
	flushing bool   // a task is writing output out, parked while the descriptor is full
	inflight []byte // what that task has taken out of wbuf and not written yet: see flush
	flushed  Queue  // tasks waiting for that task's Flush to end

	lineReady, inputReady func(*task.Task) bool // made once, for LineCase and ReadableCase
}

// NewConn wraps f in buffers. The Conn owns f from then on: use f only
// through it.
func NewConn(f *File) *Conn { return &Conn{f: f} }

// Fd returns the descriptor number.
func (c *Conn) Fd() int { return c.f.fd }

// Runtime returns the Runtime c belongs to, whose tasks may use it.
func (c *Conn) Runtime() *Runtime { return c.f.rt }

// Name returns the name of the connection, e.g. "connection from
// 127.0.0.1:50412".
func (c *Conn) Name() string { return c.f.name }

// LocalAddr returns the local address of a socket, or nil.
func (c *Conn) LocalAddr() net.Addr { return c.f.laddr }

// RemoteAddr returns the peer's address of a socket, or nil.
func (c *Conn) RemoteAddr() net.Addr { return c.f.raddr }

// SetDeadline sets the deadline of future reads and writes, Flush included;
// past it they fail with ErrTimeout. The zero time means none.
func (c *Conn) SetDeadline(d time.Time) { c.f.SetDeadline(d) }

// SetReadDeadline sets the deadline of future reads.
func (c *Conn) SetReadDeadline(d time.Time) { c.f.SetReadDeadline(d) }

// SetWriteDeadline sets the deadline of future writes and flushes.
func (c *Conn) SetWriteDeadline(d time.Time) { c.f.SetWriteDeadline(d) }

// Buffered returns the number of bytes read from the descriptor but not yet
// returned.
func (c *Conn) Buffered() int { return c.w - c.r }

// Unflushed returns the number of bytes written to c but not yet to the
// descriptor.
func (c *Conn) Unflushed() int { return len(c.inflight) + len(c.wbuf) }

// ReadLine returns the next line, without its "\n" or "\r\n", parking t
// until it has arrived. A last line with no line ending before EOF is
// returned as a line; after it ReadLine returns io.EOF. A line longer than
// MaxLine gives ErrLineTooLong and is left unread. The line is valid until
// the next call that reads from c.
func (c *Conn) ReadLine(t *Task) ([]byte, error) {
	if err := c.f.rt.enter(t, "ReadLine"); err != nil {
		return nil, c.f.wrap("read", err)
	}
	// The work is in cutLine, and ReadLine only loops: its frame stays
	// small, and it is on the stack of every parked reader (see
	// waitForInput).
	for scanned := 0; ; {
		if line, ok, err := c.cutLine(scanned, false); ok {
			return line, err
		}
		scanned = c.w - c.r // none of it holds a line ending
		if err := c.fill(t, c.maxLine()+2); err != nil {
			if err == io.EOF && c.w > c.r {
				line, _, err := c.cutLine(0, true)
				return line, err
			}
			return nil, err
		}
	}
}

// cutLine takes the first line off the buffered input, which has no line
// ending in its first scanned bytes, and reports whether it found one. At
// EOF the rest of the input is the last line. A line over the limit gives
// ErrLineTooLong, also when no line ending is in sight yet, and stays in
// the buffer.
func (c *Conn) cutLine(scanned int, eof bool) (line []byte, ok bool, err error) {
	buf := c.rbuf[c.r:c.w]
	limit := c.maxLine()
	next := len(buf)
	switch i := bytes.IndexByte(buf[scanned:], '\n'); {
	case i >= 0:
		next = scanned + i + 1
		line = buf[:scanned+i]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
	case eof:
		line = buf
	case len(buf) <= limit+1: // +1: room for the '\r' of "\r\n"
		return nil, false, nil
	default:
		return nil, true, c.f.wrap("read", ErrLineTooLong)
	}
	if len(line) > limit {
		return nil, true, c.f.wrap("read", ErrLineTooLong)
	}
	c.r += next
	return line, true, nil
}

// maxLine returns the longest line ReadLine returns.
func (c *Conn) maxLine() int {
	if c.MaxLine <= 0 {
		return DefaultMaxLine
	}
	return c.MaxLine
}

// Read reads up to len(p) bytes, from the buffer first.
func (c *Conn) Read(t *Task, p []byte) (int, error) {
	if err := c.f.rt.enter(t, "Read"); err != nil {
		return 0, c.f.wrap("read", err)
	}
	if c.r == c.w {
		if len(p) >= bufferSize {
			return c.readDirect(t, p)
		}
		if err := c.fill(t, 0); err != nil {
			return 0, err
		}
	}
	n := copy(p, c.rbuf[c.r:c.w])
	c.r += n
	return n, nil
}

// readDirect reads into p, which is at least a buffer's size, skipping the
// buffer. Like fill, it flushes pending output before it waits.
func (c *Conn) readDirect(t *Task, p []byte) (int, error) {
	for {
		n, err := c.f.read(p)
		if err != unix.EAGAIN {
			return n, c.f.wrap("read", err)
		}
		if err := c.waitForInput(t); err != nil {
			return 0, err
		}
	}
}

// ReadFull reads exactly len(p) bytes; it returns io.ErrUnexpectedEOF if
// the input ends part way.
func (c *Conn) ReadFull(t *Task, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := c.Read(t, p[n:])
		n += m
		if err == io.EOF && n > 0 {
			return n, io.ErrUnexpectedEOF
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// fill reads more input into the buffer, parking t until some arrives. The
// buffer grows to hold at least need bytes.
func (c *Conn) fill(t *Task, need int) error {
	for {
		c.makeRoom(need)
		n, err := c.f.read(c.rbuf[c.w:])
		c.w += n
		if err != unix.EAGAIN {
			return c.f.wrap("read", err)
		}
		c.lendIdle()
		if err := c.waitForInput(t); err != nil {
			return err
		}
	}
}

// waitForInput parks t until c is readable. It flushes pending output
// first, since the peer may be waiting for it before it sends more: a reply
// to the requests read so far. While another task is flushing, that task
// delivers the output; waiting for it here could leave both parked on a
// peer that waits for us to read before it reads more.
//
// Every request of a generator-style server passes through here, on the
// connection's coroutine, whose stack starts at 2 KB and never shrinks back
// once grown while parked: this path keeps its frames few and small (see
// flush), so that an idle connection costs 2 KB of stack, not 4.
func (c *Conn) waitForInput(t *Task) error {
	if !c.flushing {
		if err := c.flush(t); err != nil {
			return err
		}
	}
	return c.f.wrap("read", c.f.rt.fds.WaitReadable(t, c.f.fd, c.f.readDeadline))
}

// makeRoom makes sure there is space after the buffered input, moving it to
// the front or borrowing a bigger buffer as needed.
func (c *Conn) makeRoom(need int) {
	if c.rbuf == nil {
		c.rbuf = c.f.rt.getBuffer(need)
	}
	if c.w < len(c.rbuf) {
		return
	}
	buffered := c.w - c.r
	if buffered >= len(c.rbuf) || len(c.rbuf) < need {
		bigger := make([]byte, max(2*len(c.rbuf), need))
		copy(bigger, c.rbuf[c.r:c.w])
		c.f.rt.putBuffer(c.rbuf)
		c.rbuf = bigger
	} else {
		copy(c.rbuf, c.rbuf[c.r:c.w])
	}
	c.r, c.w = 0, buffered
}

// Write gathers p into the output buffer, flushing when it is full: the
// bytes reach the descriptor by Flush at the latest.
func (c *Conn) Write(t *Task, p []byte) (int, error) { return gather(c, t, "Write", p) }

// WriteString is Write for a string.
func (c *Conn) WriteString(t *Task, s string) (int, error) { return gather(c, t, "WriteString", s) }

func gather[S string | []byte](c *Conn, t *Task, op string, p S) (int, error) {
	if err := c.f.rt.enter(t, op); err != nil {
		return 0, c.f.wrap("write", err)
	}
	if err := c.broken(); err != nil {
		return 0, err
	}
	if c.wbuf == nil {
		c.wbuf = c.f.rt.getBuffer(0)[:0]
	}
	c.wbuf = append(c.wbuf, p...)
	if len(c.wbuf) >= writeHighWater {
		full := c.wbuf
		if err := c.flush(t); err != nil {
			return 0, err
		}
		// More is likely on its way: reuse the grown buffer rather than
		// grow a new one from 8 KiB for every 64 KiB written.
		c.wbuf = full[:0]
	}
	return len(p), nil
}

// Flush writes the gathered output, parking t while the descriptor is full.
// On a write error the unwritten output is dropped: the connection is
// broken, and every later Write and Flush returns the same error. While one
// task flushes, others may go on writing: a second Flush waits for the
// first, which writes what they gathered meanwhile too.
func (c *Conn) Flush(t *Task) error {
	if err := c.f.rt.enter(t, "Flush"); err != nil {
		return c.f.wrap("write", err)
	}
	return c.flush(t)
}

// broken returns the error every write of c gets, if any: c is closed, or
// an earlier write failed.
func (c *Conn) broken() error {
	if c.f.closed {
		return c.f.wrap("write", ErrClosed)
	}
	return c.werr
}

// flush writes the gathered output. Its common case, the descriptor
// taking all of it at once, is kept apart from flushOut, which waits: it
// needs no deferred clean-up, and the shallow stack keeps a connection's
// coroutine small (see waitForInput).
func (c *Conn) flush(t *Task) error {
	if err := c.broken(); err != nil {
		return err
	}
	if !c.flushing {
		if len(c.wbuf) == 0 {
			return nil
		}
		buf := c.wbuf
		n, err := c.f.write(buf)
		if n == len(buf) {
			c.wbuf = nil
			c.f.rt.putBuffer(buf)
			return nil
		}
		c.wbuf = buf[n:]
		if err != nil && err != unix.EAGAIN {
			c.werr, c.wbuf = c.f.wrap("write", err), nil // broken: see flushOut
			return c.werr
		}
	}
	return c.flushOut(t)
}

// flushOut is flush's general case: it waits for another task's flush to
// end, and for room in the descriptor.
func (c *Conn) flushOut(t *Task) error {
	if err := c.broken(); err != nil {
		return err
	}
	for c.flushing {
		if c.flushed.Label == "" {
			c.flushed.Label = "flush of " + c.f.name
		}
		if err := t.Wait(&c.flushed); err != nil {
			return c.f.wrap("write", err)
		}
	}
	if len(c.wbuf) == 0 {
		return nil
	}
	c.flushing = true
	defer func() {
		if len(c.inflight) > 0 && !c.f.closed {
			// The wait for room ended but the connection is not broken:
			// a deadline passed, or t is being ended (killed, or its
			// runtime stopping; the wait failed with ErrKilled, or
			// unwound). The output, other tasks' too, must not be lost
			// while their Flush reports success: it goes back ahead of
			// what was gathered meanwhile, for the next Flush or Close.
			// (Closed meanwhile, Close has counted it as unsent.)
			c.wbuf = append(c.inflight, c.wbuf...)
		}
		c.inflight = nil
		c.flushing = false
		c.flushed.WakeAll(nil)
	}()
	for len(c.wbuf) > 0 {
		// The buffer is taken out while it is written, so that output
		// gathered meanwhile goes to another and follows it.
		buf := c.wbuf
		c.wbuf = nil
		c.inflight = buf
		err, broken := c.writeAll(t, &c.inflight)
		if broken {
			// The connection is broken: drop the output, and make every
			// later write say so. (A wait that ended instead, with a
			// timeout, a cancellation, or the task ended, leaves it for a
			// later Flush.)
			c.inflight, c.wbuf, c.werr = nil, nil, err
		}
		if len(c.inflight) == 0 && cap(buf) == bufferSize {
			c.f.rt.putBuffer(buf[:bufferSize])
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// writeAll writes *p, parking t while the descriptor is full. *p keeps
// what is not written yet, also when t's wait unwinds. broken says that a
// write failed, rather than a wait for room: the connection is broken.
func (c *Conn) writeAll(t *Task, p *[]byte) (err error, broken bool) {
	for len(*p) > 0 {
		n, err := c.f.write(*p)
		*p = (*p)[n:]
		switch {
		case err == unix.EAGAIN:
			if err := c.f.rt.fds.WaitWritable(t, c.f.fd, c.f.writeDeadline); err != nil {
				return c.f.wrap("write", err), false
			}
		case err != nil:
			return c.f.wrap("write", err), err != ErrClosed
		}
	}
	return nil, false
}

// CloseWrite flushes the gathered output and shuts down the writing side of
// a socket, so that the peer reads EOF while the reading side stays open.
func (c *Conn) CloseWrite(t *Task) error {
	if err := c.f.rt.enter(t, "CloseWrite"); err != nil {
		return c.f.wrap("close write", err)
	}
	if err := c.flush(t); err != nil {
		return err
	}
	return c.f.CloseWrite()
}

// Close closes the connection without waiting. It first writes what it can
// of the gathered output without waiting, which for a short goodbye after
// the last Flush is usually all of it. Output the descriptor cannot take at
// once is dropped, and reported: the error wraps ErrUnsent and says how
// many bytes were lost. Call Flush before Close to send everything, waiting
// as long as it takes.
func (c *Conn) Close() error {
	unsent := 0
	if !c.f.closed {
		// What a Flush parked in another task has taken out goes first:
		// it was gathered first, and nothing may overtake it.
		if unsent = c.writeNow(&c.inflight); unsent == 0 {
			unsent = c.writeNow(&c.wbuf)
		} else {
			unsent += len(c.wbuf)
		}
	}
	c.f.rt.putBuffer(c.rbuf)
	c.rbuf, c.wbuf, c.inflight, c.r, c.w = nil, nil, nil, 0, 0
	err := c.f.Close()
	if err == nil && unsent > 0 {
		err = c.f.wrap("close", fmt.Errorf("%w: %d bytes", ErrUnsent, unsent))
	}
	return err
}

// writeNow writes what it can of *p without waiting, keeps the rest in *p
// and returns its length.
func (c *Conn) writeNow(p *[]byte) int {
	n, _ := c.f.writeNow(*p)
	*p = (*p)[n:]
	return len(*p)
}

// lendIdle gives the read buffer back to the runtime while c has no input
// in it, so that an idle connection holds none.
func (c *Conn) lendIdle() {
	if c.r == c.w && cap(c.rbuf) == bufferSize {
		c.f.rt.putBuffer(c.rbuf)
		c.rbuf, c.r, c.w = nil, 0, 0
	}
}

// For binds c to the task that uses it, as an io.ReadWriter whose Write is
// buffered: call Flush on the result (it has a Flush method) or on c.
func (c *Conn) For(t *Task) interface {
	io.ReadWriter
	Flush() error
} {
	return boundConn{c, t}
}

type boundConn struct {
	c *Conn
	t *Task
}

func (b boundConn) Read(p []byte) (int, error)  { return b.c.Read(b.t, p) }
func (b boundConn) Write(p []byte) (int, error) { return b.c.Write(b.t, p) }
func (b boundConn) Flush() error                { return b.c.Flush(b.t) }

// getBuffer lends a buffer of at least n bytes.
func (r *Runtime) getBuffer(n int) []byte {
	if n <= bufferSize && len(r.buffers) > 0 {
		b := r.buffers[len(r.buffers)-1]
		r.buffers = r.buffers[:len(r.buffers)-1]
		return b
	}
	return make([]byte, max(n, bufferSize))
}

// putBuffer takes a buffer back. Only standard-size buffers are kept, and
// only as many as could be busy at once in a burst; the rest go to the GC.
func (r *Runtime) putBuffer(b []byte) {
	if cap(b) != bufferSize || len(r.buffers) >= 256 {
		return
	}
	r.buffers = append(r.buffers, b[:bufferSize])
}
