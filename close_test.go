package lwtask_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/lwtask/lwtask"
)

// Conn.Close never drops output silently: it sends what the descriptor takes
// at once, and reports what it could not send.

// TestCloseSendsGoodbye is the usual case: a handler's goodbye, written and
// closed with no Flush in between, reaches the peer.
func TestCloseSendsGoodbye(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		a, b := newSocketPair(t, rt)
		c := lwtask.NewConn(a)
		var got string
		rt.Go("handler", func(tk *lwtask.Task) {
			defer func() {
				if err := c.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
			c.WriteString(tk, "221 bye\n")
		})
		rt.Go("peer", func(tk *lwtask.Task) {
			data, err := io.ReadAll(b.For(tk))
			if err != nil {
				t.Error(err)
			}
			got = string(data)
		})
		runAll(t, rt)
		if got != "221 bye\n" {
			t.Fatalf("peer read %q, want the goodbye", got)
		}
	})
}

// TestCloseReportsUnsent closes a connection whose peer reads nothing, with
// more gathered than the socket takes: Close returns at once, with an error
// that wraps ErrUnsent and counts the bytes dropped, and the peer gets
// exactly the bytes Close did not report.
func TestCloseReportsUnsent(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		a, b := newSocketPair(t, rt)
		c := lwtask.NewConn(a)
		const gathered = 60 << 10 // under the high-water mark: Write never flushes
		var closeErr error
		rt.Go("handler", func(tk *lwtask.Task) {
			fillUp(t, a)
			c.WriteString(tk, strings.Repeat("x", gathered))
			closeErr = c.Close()
		})
		runAll(t, rt)
		if !errors.Is(closeErr, lwtask.ErrUnsent) {
			t.Fatalf("Close with a full socket: %v, want ErrUnsent", closeErr)
		}
		if !strings.Contains(closeErr.Error(), "61440 bytes") {
			t.Fatalf("Close's error %q does not say how many bytes were dropped", closeErr)
		}
		// Everything before the gathered output is still there to read.
		rt.Go("peer", func(tk *lwtask.Task) {
			if _, err := io.ReadAll(b.For(tk)); err != nil {
				t.Error(err)
			}
		})
		runAll(t, rt)
	})
}

// TestFlushThenClose is the way to send everything however long it takes:
// Flush waits for the peer to read, then Close has nothing left to drop.
func TestFlushThenClose(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		a, b := newSocketPair(t, rt)
		c := lwtask.NewConn(a)
		const size = 1 << 20
		var n int64
		rt.Go("handler", func(tk *lwtask.Task) {
			c.WriteString(tk, strings.Repeat("x", size))
			if err := c.Flush(tk); err != nil {
				t.Error(err)
			}
			if err := c.Close(); err != nil {
				t.Errorf("Close after Flush: %v", err)
			}
		})
		rt.Go("peer", func(tk *lwtask.Task) {
			var err error
			if n, err = io.Copy(io.Discard, b.For(tk)); err != nil {
				t.Error(err)
			}
		})
		runAll(t, rt)
		if n != size {
			t.Fatalf("peer read %d bytes, want %d", n, size)
		}
	})
}

// TestCloseTwiceConn: a second Close reports ErrClosed, and drops nothing.
func TestCloseTwiceConn(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		a, _ := newSocketPair(t, rt)
		c := lwtask.NewConn(a)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); !errors.Is(err, lwtask.ErrClosed) {
			t.Fatalf("second Close: %v, want ErrClosed", err)
		}
	})
}

// TestCloseDuringFlush: Close while another task's Flush waits for room
// counts the output that Flush had taken out as unsent too, and none of it
// comes back into the closed connection; the Flush fails with ErrClosed.
func TestCloseDuringFlush(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		a, _ := newSocketPair(t, rt)
		c := lwtask.NewConn(a)
		const size = 1 << 20 // far more than the socket takes: the Flush waits
		var flushErr, closeErr error
		rt.Go("flusher", func(tk *lwtask.Task) {
			c.WriteString(tk, strings.Repeat("x", size))
			flushErr = c.Flush(tk)
		})
		rt.Go("closer", func(tk *lwtask.Task) { // runs once the flusher waits
			if c.Unflushed() == 0 {
				t.Error("nothing waiting to be written: the Flush did not wait")
			}
			closeErr = c.Close()
		})
		runAll(t, rt)
		if !errors.Is(flushErr, lwtask.ErrClosed) {
			t.Errorf("the parked Flush: %v, want ErrClosed", flushErr)
		}
		if !errors.Is(closeErr, lwtask.ErrUnsent) {
			t.Errorf("Close during the Flush: %v, want ErrUnsent: its output was dropped", closeErr)
		}
		if n := c.Unflushed(); n != 0 {
			t.Errorf("%d bytes back in the closed connection, want 0", n)
		}
	})
}
