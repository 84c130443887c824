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
