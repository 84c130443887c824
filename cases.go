package lwtask

import (
	"bytes"

	"golang.org/x/sys/unix"

	"github.com/lwtask/lwtask/task"
)

// Select cases on descriptors (see task.Select): a task can wait for "a
// line from my socket, or a message in my outbox, or a minute to pass" in
// one call, and is told which came first.

// ReadableCase returns a task.Case that is ready once f has something to
// read (or is at EOF, or in error): a Read then does not wait.
func (f *File) ReadableCase() task.Case { return f.rt.fds.ReadableCase(f.caseFd(), nil) }

// WritableCase returns a task.Case that is ready once f can take some
// output: a TryWrite then writes something.
func (f *File) WritableCase() task.Case { return f.rt.fds.WritableCase(f.caseFd(), nil) }

// caseFd is the descriptor a case of f waits on: none (ready at once, for
// the operation that follows to fail with ErrClosed) once f is closed, and
// its number may be another file's.
func (f *File) caseFd() int {
	if f.closed {
		return -1
	}
	return f.fd
}

// LineCase returns a task.Case that is ready once a whole line is
// buffered, or the input has ended or failed: a ReadLine then returns
// without waiting. Reading ahead to see, it also writes what output it
// can without waiting; call Flush first to be sure all of it is sent, as
// the peer may wait for it before it sends the line.
func (c *Conn) LineCase() task.Case {
	if c.lineReady == nil {
		c.lineReady = func(*task.Task) bool { return c.peek(true) }
	}
	return c.f.rt.fds.ReadableCase(c.f.caseFd(), c.lineReady)
}

// ReadableCase returns a task.Case that is ready once c has input buffered
// or readable, or the input has ended or failed: a Read then returns
// without waiting.
func (c *Conn) ReadableCase() task.Case {
	if c.inputReady == nil {
		c.inputReady = func(*task.Task) bool { return c.peek(false) }
	}
	return c.f.rt.fds.ReadableCase(c.f.caseFd(), c.inputReady)
}

// peek reports whether a read of c (a whole line, if line) would return
// without waiting, reading what has arrived into the buffer to see. Before
// it reports no, it writes what output it can without waiting.
func (c *Conn) peek(line bool) bool {
	if c.f.closed {
		return true
	}
	limit := c.maxLine()
	for {
		buf := c.rbuf[c.r:c.w]
		switch {
		case !line && len(buf) > 0,
			line && bytes.IndexByte(buf, '\n') >= 0,
			line && len(buf) > limit+1: // ReadLine fails with ErrLineTooLong at once
			return true
		}
		c.makeRoom(limit + 2)
		n, err := c.f.read(c.rbuf[c.w:])
		c.w += n
		if err == unix.EAGAIN {
			break
		}
		if err != nil {
			return true // EOF or an error: the read returns it at once
		}
	}
	c.lendIdle()
	if !c.flushing {
		c.writeNow(&c.wbuf)
	}
	return false
}
