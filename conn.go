package lwtask

import (
	"bytes"
	"io"
	"net"

	"golang.org/x/sys/unix"
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
type Conn struct {
	*File
	// MaxLine is the longest line ReadLine returns, without its line
	// ending; 0 means DefaultMaxLine.
	MaxLine int

	peer     net.Addr
	rbuf     []byte // input is rbuf[r:w]
	r, w     int
	wbuf     []byte // output not yet written
	flushing bool   // a task is writing wbuf out, parked while the descriptor is full
	flushed  Queue  // tasks waiting for that task's Flush to end
}

// NewConn wraps f in buffers.
func NewConn(f *File) *Conn { return &Conn{File: f} }

// RemoteAddr returns the peer's address for an accepted or dialled socket,
// or nil.
func (c *Conn) RemoteAddr() net.Addr { return c.peer }

// Buffered returns the number of bytes read from the descriptor but not yet
// returned.
func (c *Conn) Buffered() int { return c.w - c.r }

// ReadLine returns the next line, without its "\n" or "\r\n", parking t
// until it has arrived. A last line with no line ending before EOF is
// returned as a line; after it ReadLine returns io.EOF. A line longer than
// MaxLine gives ErrLineTooLong and is left unread. The line is valid until
// the next call that reads from c.
func (c *Conn) ReadLine(t *Task) ([]byte, error) {
	limit := c.MaxLine
	if limit <= 0 {
		limit = DefaultMaxLine
	}
	for scanned := 0; ; {
		buf := c.rbuf[c.r:c.w]
		if i := bytes.IndexByte(buf[scanned:], '\n'); i >= 0 {
			line := buf[:scanned+i]
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
			if len(line) > limit {
				return nil, c.wrap("read", ErrLineTooLong)
			}
			c.r += scanned + i + 1
			return line, nil
		}
		scanned = len(buf)
		if scanned > limit+1 { // +1: room for the '\r' of "\r\n"
			return nil, c.wrap("read", ErrLineTooLong)
		}
		err := c.fill(t, limit+2)
		if err == io.EOF && c.w > c.r {
			line := c.rbuf[c.r:c.w]
			if len(line) > limit {
				return nil, c.wrap("read", ErrLineTooLong)
			}
			c.r = c.w
			return line, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// Read reads up to len(p) bytes, from the buffer first.
func (c *Conn) Read(t *Task, p []byte) (int, error) {
	if c.r == c.w {
		if len(p) >= bufferSize {
			// Large reads skip the buffer, but like fill they flush
			// pending output before they wait: the peer may be
			// waiting for it.
			n, err := c.tryRead(p)
			if err != unix.EAGAIN {
				return n, err
			}
			if !c.flushing { // as in fill
				if err := c.Flush(t); err != nil {
					return 0, err
				}
			}
			return c.File.Read(t, p)
		}
		if err := c.fill(t, 0); err != nil {
			return 0, err
		}
	}
	n := copy(p, c.rbuf[c.r:c.w])
	c.r += n
	return n, nil
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

// fill reads more input into the buffer, parking t until some arrives.
// Before parking it flushes pending output, since the peer may be waiting
// for it before it sends more: a reply to the requests read so far. The
// buffer grows to hold at least need bytes; while t is parked with nothing
// buffered, the buffer is lent back to the runtime.
func (c *Conn) fill(t *Task, need int) error {
	for {
		c.makeRoom(need)
		n, err := c.tryRead(c.rbuf[c.w:])
		c.w += n
		if err != unix.EAGAIN {
			return err
		}
		// While another task is flushing, that task delivers the output;
		// waiting for it here could leave both parked on a peer that
		// waits for us to read before it reads more.
		if !c.flushing {
			if err := c.Flush(t); err != nil {
				return err
			}
		}
		if c.r == c.w && cap(c.rbuf) == bufferSize {
			c.rt.putBuffer(c.rbuf)
			c.rbuf, c.r, c.w = nil, 0, 0
		}
		if err := c.waitReadable(t); err != nil {
			return err
		}
	}
}

// makeRoom makes sure there is space after the buffered input, moving it to
// the front or borrowing a bigger buffer as needed.
func (c *Conn) makeRoom(need int) {
	if c.rbuf == nil {
		c.rbuf = c.rt.getBuffer(need)
	}
	if c.w < len(c.rbuf) {
		return
	}
	buffered := c.w - c.r
	if buffered >= len(c.rbuf) || len(c.rbuf) < need {
		bigger := make([]byte, max(2*len(c.rbuf), need))
		copy(bigger, c.rbuf[c.r:c.w])
		c.rt.putBuffer(c.rbuf)
		c.rbuf = bigger
	} else {
		copy(c.rbuf, c.rbuf[c.r:c.w])
	}
	c.r, c.w = 0, buffered
}

// Write gathers p into the output buffer, flushing when it is full: the
// bytes reach the descriptor by Flush at the latest.
func (c *Conn) Write(t *Task, p []byte) (int, error) { return gather(c, t, p) }

// WriteString is Write for a string.
func (c *Conn) WriteString(t *Task, s string) (int, error) { return gather(c, t, s) }

func gather[S string | []byte](c *Conn, t *Task, p S) (int, error) {
	if c.closed {
		return 0, c.wrap("write", ErrClosed)
	}
	if c.wbuf == nil {
		c.wbuf = c.rt.getBuffer(0)[:0]
	}
	c.wbuf = append(c.wbuf, p...)
	if len(c.wbuf) >= writeHighWater {
		full := c.wbuf
		if err := c.Flush(t); err != nil {
			return 0, err
		}
		// More is likely on its way: reuse the grown buffer rather than
		// grow a new one from 8 KiB for every 64 KiB written.
		c.wbuf = full[:0]
	}
	return len(p), nil
}

// Flush writes the gathered output, parking t while the descriptor is full.
// On error the unwritten output is dropped: the connection is broken.
// While one task flushes, others may go on writing: a second Flush waits
// for the first, which writes what they gathered meanwhile too.
func (c *Conn) Flush(t *Task) error {
	for c.flushing {
		if c.flushed.Label == "" {
			c.flushed.Label = "flush of " + c.name
		}
		if err := t.Wait(&c.flushed); err != nil {
			return err
		}
	}
	if len(c.wbuf) == 0 {
		return nil
	}
	c.flushing = true
	defer func() {
		c.flushing = false
		for c.flushed.Len() > 0 {
			c.rt.Unblock(&c.flushed)
		}
	}()
	for len(c.wbuf) > 0 {
		// The buffer is taken out while it is written, so that output
		// gathered meanwhile goes to another and follows it.
		buf := c.wbuf
		c.wbuf = nil
		_, err := c.File.Write(t, buf)
		if cap(buf) == bufferSize {
			c.rt.putBuffer(buf[:bufferSize])
		}
		if err != nil {
			c.wbuf = nil
			return err
		}
	}
	return nil
}

// CloseWrite flushes the gathered output and shuts down the writing side of
// a socket, so that the peer reads EOF while the reading side stays open.
func (c *Conn) CloseWrite(t *Task) error {
	if err := c.Flush(t); err != nil {
		return err
	}
	return c.File.CloseWrite()
}

// Close flushes nothing: it drops buffered output and closes the
// descriptor; call Flush first to send it.
func (c *Conn) Close() error {
	c.rt.putBuffer(c.rbuf)
	c.rbuf, c.wbuf, c.r, c.w = nil, nil, 0, 0
	return c.File.Close()
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
