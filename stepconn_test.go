package lwtask_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/lwtask/lwtask"
)

// deadlineHandler counts the calls of its Serve.
type deadlineHandler struct{ calls int }

func (h *deadlineHandler) Serve(c *lwtask.Conn, in []byte, eof bool) (int, error) {
	h.calls++
	return len(in), nil
}

// TestStepConnReadDeadline: a step connection whose read deadline passes
// while the peer sends nothing is closed, on every backend; its task does
// not wait again and again for a deadline already past.
func TestStepConnReadDeadline(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		l := listen(t, rt, "tcp", "127.0.0.1:0")
		var h *deadlineHandler
		rt.ServeSteps(l, func(c *lwtask.Conn) lwtask.StepHandler {
			c.SetReadDeadline(rt.Now().Add(20 * time.Millisecond))
			h = &deadlineHandler{}
			l.Close() // one connection is all
			return h
		})
		peer, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer peer.Close()
		runAll(t, rt) // returns once the connection has ended
		peer.SetReadDeadline(time.Now().Add(hangLimit))
		if n, err := peer.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("the peer read %d, %v; want EOF: the server closes at its deadline", n, err)
		}
		if steps := rt.Metrics().Steps; steps > 100 {
			t.Errorf("%d steps for one idle connection: the task waited for a deadline already past", steps)
		}
		if h == nil || h.calls != 0 {
			t.Errorf("handler %+v: want it made, and never called: no input came", h)
		}
	})
}

// hoarder consumes nothing, or claims to consume what it was not given.
type hoarder struct{ consumed int }

func (h *hoarder) Serve(c *lwtask.Conn, in []byte, eof bool) (int, error) {
	return h.consumed, nil
}

// TestStepConnUnconsumed: a handler that never consumes its input (a
// request with no end) costs at most 64 KiB before its connection is
// closed; one that reports a consumed count out of range (negative, or
// more than it was given) is held to what it was given, and nothing
// panics.
func TestStepConnUnconsumed(t *testing.T) {
	for _, consumed := range []int{0, -5} {
		eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
			l := listen(t, rt, "tcp", "127.0.0.1:0")
			rt.ServeSteps(l, func(c *lwtask.Conn) lwtask.StepHandler {
				l.Close()
				return &hoarder{consumed: consumed}
			})
			peer, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			sent := make(chan int64, 1)
			go func() { // a line with no end, until the server closes
				n, _ := io.Copy(peer, neverEnding{})
				sent <- n
			}()
			runAll(t, rt) // returns: the connection was closed
			// What the peer wrote includes what the kernel's socket
			// buffers held (a few MiB on loopback): the bound is loose,
			// and only an endless read would break it.
			if n := <-sent; n > 32<<20 {
				t.Errorf("the peer wrote %d bytes of an endless request before the server closed", n)
			}
		})
	}
	// Consuming more than it was given is consuming all of it.
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		l := listen(t, rt, "tcp", "127.0.0.1:0")
		var h *echoCounted
		rt.ServeSteps(l, func(c *lwtask.Conn) lwtask.StepHandler {
			l.Close()
			h = &echoCounted{}
			return h
		})
		peer, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			peer.Write([]byte("abc"))
			peer.(*net.TCPConn).CloseWrite()
		}()
		runAll(t, rt)
		peer.Close()
		if h.given != "abc" {
			t.Errorf("the handler was given %q in all, want each byte once: \"abc\"", h.given)
		}
	})
}

// neverEnding is an endless stream of 'x'.
type neverEnding struct{}

func (neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

// echoCounted records what it is given, and claims to consume more.
type echoCounted struct{ given string }

func (h *echoCounted) Serve(c *lwtask.Conn, in []byte, eof bool) (int, error) {
	h.given += string(in)
	return len(in) + 10, nil
}
