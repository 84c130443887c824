package lwtask

import (
	"io"
	"time"

	"golang.org/x/sys/unix"
)

// A StepHandler serves one connection in raw step style, as gnet's
// handlers do: it is a state machine with no coroutine and no stack of its
// own, called each time input has come, and keeping between calls only the
// state it holds itself (in the value that implements it).
//
// Serve is given the input received and not yet consumed, oldest first,
// and returns how much of it it has consumed (the rest is given again,
// with what comes next, at the next call); eof says the peer will send no
// more. It replies by appending to the connection's output (Conn.Append,
// AppendString), which is written after the call, in as few writes as the
// socket allows. A call that appended something is followed, once that is
// written, by another, with or without new input, so that a handler with
// more to send than it should buffer at once (a long reply) can send it a
// part at a time. An error ends the connection, as does io.EOF, which is
// the way for a handler to say it is done: what it appended is still sent,
// without waiting for a peer that does not read, and the connection is
// closed.
//
// While a reply cannot be written out (the peer is slow to read), no more
// input is read or served: a peer that never reads costs the server at
// most the output of one call.
type StepHandler interface {
	Serve(c *Conn, in []byte, eof bool) (consumed int, err error)
}

// ServeSteps serves the connections l accepts, each with the handler
// newHandler makes for it, as raw step tasks: a task per connection and no
// coroutine. It starts the accepting task, also a raw step, and returns
// it; killing it, or closing l, stops accepting, and the connections
// already accepted are served on.
func (r *Runtime) ServeSteps(l *Listener, newHandler func(c *Conn) StepHandler) *Task {
	return r.GoStep("accept on "+l.Addr().String(), func(t *Task) Status {
		for {
			c, err := l.TryAccept(t)
			switch {
			case err == ErrAgain:
				return Yield
			case err != nil:
				return Finish
			}
			r.goStepConn(c, newHandler)
		}
	})
}

// goStepConn starts the raw step task that serves c with the handler
// newHandler makes for it.
func (r *Runtime) goStepConn(c *Conn, newHandler func(c *Conn) StepHandler) {
	sc := &stepConn{c: c}
	sc.h = newHandler(c)
	r.GoStep(c.f.name, sc.step)
}

// stepConn is one connection served by a StepHandler.
type stepConn struct {
	c         *Conn
	h         StepHandler
	again     bool // the last Serve appended output: call it again once that is written
	eof       bool // the peer has closed its side: no more input
	closing   bool // the handler is done: send what is left, then close
	lingering bool // shut down for writing, reading what the peer still sends: see end
	dropped   int  // what lingering has read and dropped
}

// step runs the connection: write out pending output, read what has come,
// serve it, and park when there is nothing to do.
func (sc *stepConn) step(t *Task) Status {
	c := sc.c
	if sc.lingering {
		return sc.linger(t)
	}
	for {
		if len(c.wbuf) > 0 {
			switch err := sc.writeOut(t); {
			case err == ErrAgain:
				return Yield
			case err != nil:
				return sc.close()
			}
		}
		if sc.closing || (sc.eof && c.r == c.w && !sc.again) {
			return sc.end(t)
		}
		if !sc.eof && !sc.again {
			switch err := sc.readIn(t); {
			case err == ErrAgain:
				return Yield
			case err == io.EOF:
				sc.eof = true
			case err != nil:
				return sc.close()
			}
		}
		out := len(c.wbuf)
		n, err := sc.h.Serve(c, c.rbuf[c.r:c.w], sc.eof)
		c.r += min(max(n, 0), c.w-c.r)
		sc.again = len(c.wbuf) > out
		// At the end of input the handler has its last say once it stops
		// replying; and input it will not consume must not grow without end.
		if err != nil || (sc.eof && !sc.again) || c.w-c.r >= maxUnconsumed {
			sc.closing = true
		}
	}
}

// maxUnconsumed is how much input a StepHandler may leave unconsumed, a
// request it cannot yet parse, before the connection is closed: a peer
// that sends a request with no end costs no more.
const maxUnconsumed = 64 << 10

// writeOut writes the pending output, parking t while the socket is full.
func (sc *stepConn) writeOut(t *Task) error {
	c := sc.c
	n, err := c.f.TryWrite(t, c.wbuf)
	// What is left moves to the front, so that the buffer keeps its
	// room: slicing past what was written would leave the next appends
	// to grow a new one every time.
	// The buffer itself stays while the handler is replying, however
	// large it grew, and goes when the connection waits for input (see
	// readIn): a long reply sent a part at a time reuses one buffer.
	c.wbuf = c.wbuf[:copy(c.wbuf, c.wbuf[n:])]
	return err
}

// readIn reads what has come into the input buffer, parking t, with the
// buffer lent back if it is empty, when nothing has.
func (sc *stepConn) readIn(t *Task) error {
	c := sc.c
	if err := c.f.rt.tryEnter(t, "Serve"); err != nil {
		return err // ErrAgain: t's turn is spent; or its cancellation
	}
	c.makeRoom(0)
	n, err := c.f.read(c.rbuf[c.w:])
	c.w += n
	switch {
	case err == nil:
		return nil
	case err != unix.EAGAIN:
		return err
	}
	c.lendIdle()
	if len(c.wbuf) == 0 && c.wbuf != nil { // idle: no buffer held
		if cap(c.wbuf) == bufferSize {
			c.f.rt.putBuffer(c.wbuf[:bufferSize])
		}
		c.wbuf = nil
	}
	// As TryRead parks: a read deadline that has passed is the end of
	// the wait, not a reason to wait again.
	return c.f.park(t, "read", c.f.readDeadline, c.f.rt.fds.BlockForReading)
}

// end closes the connection once its output is out. If the peer may still
// be sending, it shuts the socket down for writing first, and reads and
// drops what the peer sends, for up to lingerTime or lingerBytes: closing
// with input unread makes the kernel reset the connection, and a reset can
// overtake the last reply on its way to the peer.
func (sc *stepConn) end(t *Task) Status {
	c := sc.c
	if sc.eof || c.f.network == "" || c.f.CloseWrite() != nil {
		return sc.close()
	}
	sc.lingering = true
	c.f.rt.putBuffer(c.rbuf)
	c.rbuf, c.r, c.w = nil, 0, 0
	c.f.SetReadDeadline(c.f.rt.Now().Add(lingerTime))
	return sc.linger(t)
}

// Limits of the lingering close.
const (
	lingerTime  = time.Second
	lingerBytes = 1 << 20
)

// linger reads and drops input until EOF, an error, the deadline or
// lingerBytes, then closes.
func (sc *stepConn) linger(t *Task) Status {
	c := sc.c
	var drop [512]byte
	for sc.dropped < lingerBytes {
		n, err := c.f.TryRead(t, drop[:])
		sc.dropped += n
		switch {
		case err == ErrAgain:
			return Yield
		case err != nil:
			return sc.close()
		}
	}
	return sc.close()
}

func (sc *stepConn) close() Status {
	sc.c.Close()
	return Finish
}

// Append appends p to c's output, to be written when the handler returns
// (or by the next Flush): a StepHandler's way to reply. It never waits.
func (c *Conn) Append(p []byte) { appendOut(c, p) }

// AppendString is Append for a string.
func (c *Conn) AppendString(s string) { appendOut(c, s) }

func appendOut[S string | []byte](c *Conn, p S) {
	if c.wbuf == nil {
		c.wbuf = c.f.rt.getBuffer(0)[:0]
	}
	c.wbuf = append(c.wbuf, p...)
}
