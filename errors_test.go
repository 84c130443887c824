package lwtask_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lwtask/lwtask"
	"github.com/lwtask/lwtask/fdqueue/poller"
	"github.com/lwtask/lwtask/internal/fdtest"
	"github.com/lwtask/lwtask/task"
	"github.com/lwtask/lwtask/utensil"
)

// Deadlines and errors that mean one thing: a zero deadline is none,
// everywhere; a timeout is os.ErrDeadlineExceeded and a net.Error whose
// Timeout() is true; a closed descriptor is net.ErrClosed and os.ErrClosed;
// and every error is wrapped once, as package os and package net wrap
// theirs, with no chain of lwtask's internal package names. Every test runs
// on each poller backend.

// past is a deadline that has passed.
var past = time.Unix(1, 0)

// wantTimeout reports unless err is a timeout to the tests Go code makes
// for one: errors.Is with os.ErrDeadlineExceeded, errors.As to a net.Error
// whose Timeout() is true, and, for the errors of descriptors, which come
// as an *os.PathError or a *net.OpError, os.IsTimeout too. It uses
// t.Errorf, so tasks may call it.
func wantTimeout(t *testing.T, what string, err error) {
	t.Helper()
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, lwtask.ErrTimeout) {
		t.Errorf("%s: %v, want a timeout (os.ErrDeadlineExceeded, a net.Error whose Timeout() is true)", what, err)
	}
	var pe *os.PathError
	var oe *net.OpError
	if (errors.As(err, &pe) || errors.As(err, &oe)) && !os.IsTimeout(err) {
		t.Errorf("%s: %v, which os.IsTimeout does not take for a timeout", what, err)
	}
}

// wantClosed reports unless err says the descriptor is closed, to every
// test Go code makes for that.
func wantClosed(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, net.ErrClosed) || !errors.Is(err, os.ErrClosed) || !errors.Is(err, lwtask.ErrClosed) {
		t.Errorf("%s: %v, want an error matching net.ErrClosed and os.ErrClosed", what, err)
	}
}

// internalPrefixes are what a chain of internal wrappers would show.
var internalPrefixes = []string{"lwtask: ", "fdqueue: ", "poller: ", "task: ", "scheduler: "}

// wantOnce reports unless err is one *os.PathError or *net.OpError
// around its cause, as package os and package net make them, with no
// internal package name in its message. It returns the message.
func wantOnce(t *testing.T, what string, err error) string {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return ""
	}
	msg := err.Error()
	for _, p := range internalPrefixes {
		if strings.Contains(msg, p) {
			t.Errorf("%s: %q names an internal package (%q)", what, msg, p)
		}
	}
	var cause error
	switch e := err.(type) {
	case *os.PathError:
		cause = e.Err
	case *net.OpError:
		cause = e.Err
	default:
		t.Errorf("%s: %T %q, want an *os.PathError or a *net.OpError", what, err, msg)
		return msg
	}
	var pe *os.PathError
	var oe *net.OpError
	if errors.As(cause, &pe) || errors.As(cause, &oe) {
		t.Errorf("%s: %q is wrapped twice", what, msg)
	}
	return msg
}

// wantMessage reports unless err's message is exactly want.
func wantMessage(t *testing.T, what string, err error, want string) {
	t.Helper()
	if got := fmt.Sprint(err); got != want {
		t.Errorf("%s: error %q, want %q", what, got, want)
	}
}

// tcpPair dials a listener of rt's and accepts: the server's and the
// client's end of one TCP connection, closed when the test ends.
func tcpPair(t *testing.T, rt *lwtask.Runtime, tk *lwtask.Task, l *lwtask.Listener) (server, client *lwtask.Conn) {
	t.Helper()
	dialled := false
	rt.Go("dialler", func(dk *lwtask.Task) {
		c, err := rt.Dial(dk, "tcp", l.Addr().String())
		if err != nil {
			t.Error(err)
		}
		client, dialled = c, true
	})
	server, err := l.Accept(tk)
	if err != nil {
		t.Error(err)
		return nil, nil
	}
	for !dialled {
		tk.Yield()
	}
	if client == nil {
		server.Close()
		return nil, nil
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// fillConn writes to c, whose peer reads nothing, until its socket is
// full: past the deadline the write that has to wait fails. It returns
// that error.
func fillConn(tk *lwtask.Task, c *lwtask.Conn, deadline time.Time) error {
	c.SetWriteDeadline(deadline)
	chunk := make([]byte, 256<<10) // past the high-water mark: Write flushes
	for {
		if _, err := c.Write(tk, chunk); err != nil {
			return err
		}
	}
}

// TestZeroDeadlineIsNone waits with the zero time as deadline in every
// call that takes one: each waits until it is served, with no timer, as if
// it had no deadline; it neither times out at once nor after a while. A
// zero deadline set on a File, Conn or Listener lifts the one set before.
func TestZeroDeadlineIsNone(t *testing.T) {
	// Every waiter is served after this pause, long enough for a deadline
	// that wrongly meant "now" or "in a few microseconds" to fire first.
	const pause = 2 * time.Millisecond
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		door := task.NewQueue("door")
		fork := utensil.New("fork 0")
		rd, wr := newPipe(t, rt)
		l := listen(t, rt, "tcp", "127.0.0.1:0")
		waitingFor := map[string]string{}
		var tasks []*lwtask.Task
		var sleeper *lwtask.Task
		// The server runs first: it takes the fork, lets every other task
		// start waiting, and serves them all after the pause.
		rt.Go("server", func(tk *lwtask.Task) {
			if err := fork.Acquire(tk); err != nil {
				t.Error(err)
			}
			tk.Yield()
			for _, x := range tasks {
				waitingFor[x.Name()] = x.Info().WaitingFor
			}
			if err := tk.Sleep(pause); err != nil {
				t.Error(err)
			}
			door.WakeAll(nil)
			fork.Release(tk)
			sleeper.Wake(nil)
			wr.Write(tk, []byte("x"))
			wr.Write(tk, []byte("line\n"))
			if c, err := rt.Dial(tk, "tcp", l.Addr().String()); err != nil {
				t.Error(err)
			} else {
				c.Close()
			}
		})
		tasks = append(tasks, rt.Go("WaitUntil", func(tk *lwtask.Task) {
			if err := tk.WaitUntil(door, time.Time{}); err != nil {
				t.Errorf("WaitUntil(zero): %v, want nil once unblocked", err)
			}
		}))
		blocked := false
		tasks = append(tasks, rt.GoStep("BlockUntil", func(tk *lwtask.Task) lwtask.Status {
			if !blocked {
				blocked = true
				if err := tk.BlockUntil(door, time.Time{}); err != nil {
					t.Errorf("BlockUntil(zero): %v", err)
				}
				return lwtask.Yield
			}
			if err := tk.WaitErr(); err != nil {
				t.Errorf("BlockUntil(zero): woken with %v, want nil once unblocked", err)
			}
			return lwtask.Finish
		}))
		tasks = append(tasks, rt.Go("AcquireUntil", func(tk *lwtask.Task) {
			if err := fork.AcquireUntil(tk, time.Time{}); err != nil {
				t.Errorf("AcquireUntil(zero): %v, want the fork once released", err)
				return
			}
			fork.Release(tk)
		}))
		sleeper = rt.Go("SleepUntil", func(tk *lwtask.Task) {
			// No deadline: the sleep lasts until the task is woken.
			if err := tk.SleepUntil(time.Time{}); !errors.Is(err, task.ErrInterrupted) {
				t.Errorf("SleepUntil(zero): %v, want ErrInterrupted from Wake", err)
			}
		})
		tasks = append(tasks, sleeper)
		tasks = append(tasks, rt.Go("Read", func(tk *lwtask.Task) {
			rd.SetDeadline(past)
			rd.SetDeadline(time.Time{})
			rd.SetReadDeadline(past)
			rd.SetReadDeadline(time.Time{})
			buf := make([]byte, 1)
			if n, err := rd.Read(tk, buf); err != nil || string(buf[:n]) != "x" {
				t.Errorf("Read with the deadline lifted: %q, %v", buf[:n], err)
			}
			c := lwtask.NewConn(rd)
			c.SetDeadline(past)
			c.SetDeadline(time.Time{})
			c.SetReadDeadline(past)
			c.SetReadDeadline(time.Time{})
			if line, err := c.ReadLine(tk); err != nil || string(line) != "line" {
				t.Errorf("ReadLine with the deadline lifted: %q, %v", line, err)
			}
		}))
		tasks = append(tasks, rt.Go("Accept", func(tk *lwtask.Task) {
			l.SetDeadline(past)
			l.SetDeadline(time.Time{})
			c, err := l.Accept(tk)
			if err != nil {
				t.Errorf("Accept with the deadline lifted: %v", err)
				return
			}
			c.Close()
		}))
		runAll(t, rt)
		if len(waitingFor) != len(tasks) {
			t.Errorf("saw %d of the %d waiters waiting", len(waitingFor), len(tasks))
		}
		for name, wf := range waitingFor {
			if strings.Contains(wf, "deadline") || wf == "" {
				t.Errorf("%s with a zero deadline is waiting for %q, want no deadline", name, wf)
			}
		}

		// Writes: a full pipe, drained after the pause.
		fillUp(t, wr)
		rt.Go("Write", func(tk *lwtask.Task) {
			wr.SetDeadline(past)
			wr.SetDeadline(time.Time{})
			wr.SetWriteDeadline(past)
			wr.SetWriteDeadline(time.Time{})
			if n, err := wr.Write(tk, []byte("spam")); n != 4 || err != nil {
				t.Errorf("Write with the deadline lifted: %d, %v", n, err)
			}
			c := lwtask.NewConn(wr)
			c.SetWriteDeadline(past)
			c.SetWriteDeadline(time.Time{})
			c.WriteString(tk, "eggs")
			if err := c.Flush(tk); err != nil {
				t.Errorf("Flush with the deadline lifted: %v", err)
			}
			wr.Close()
		})
		rt.Go("drainer", func(tk *lwtask.Task) {
			tk.Sleep(pause)
			data, err := io.ReadAll(rd.For(tk))
			if err != nil || !strings.HasSuffix(string(data), "spameggs") {
				t.Errorf("drained %d bytes ending %q, %v", len(data), data[max(0, len(data)-8):], err)
			}
		})
		runAll(t, rt)
	})
}

// TestSleepResult checks what Sleep returns: nil after the whole sleep,
// the error it was woken with, ErrInterrupted for a Wake with none, and,
// in the deferred calls of a task that is being ended, ErrKilled at once.
func TestSleepResult(t *testing.T) {
	errAlarm := errors.New("alarm")
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		results := map[string]error{}
		rt.Go("full", func(tk *lwtask.Task) { results["full"] = tk.Sleep(time.Millisecond) })
		rt.Go("zero", func(tk *lwtask.Task) { results["zero"] = tk.Sleep(0) })
		rt.Go("negative", func(tk *lwtask.Task) { results["negative"] = tk.Sleep(-time.Hour) })
		rt.Go("past", func(tk *lwtask.Task) { results["past"] = tk.SleepUntil(past) })
		woken := rt.Go("woken", func(tk *lwtask.Task) { results["woken"] = tk.Sleep(time.Hour) })
		nudged := rt.Go("nudged", func(tk *lwtask.Task) { results["nudged"] = tk.Sleep(time.Hour) })
		reached := false
		killed := rt.Go("killed", func(tk *lwtask.Task) {
			defer func() { results["killed, in defer"] = tk.Sleep(time.Hour) }()
			tk.Sleep(time.Hour)
			reached = true
		})
		rt.Go("waker", func(tk *lwtask.Task) {
			tk.Yield() // the others sleep
			woken.Wake(errAlarm)
			nudged.Wake(nil)
			rt.Kill(killed)
		})
		runAll(t, rt)
		for name, want := range map[string]error{
			"full": nil, "zero": nil, "negative": nil, "past": nil,
			"woken": errAlarm, "nudged": task.ErrInterrupted, "killed, in defer": lwtask.ErrKilled,
		} {
			if got, ok := results[name]; !ok || !errors.Is(got, want) || (want == nil && got != nil) {
				t.Errorf("Sleep of %s: %v (returned: %v), want %v", name, got, ok, want)
			}
		}
		if reached {
			t.Error("a killed task's Sleep returned into its body")
		}

		// Stop ends a sleeper too; its deferred Sleep gets ErrKilled.
		var stopped error
		rt.Go("stopped", func(tk *lwtask.Task) {
			defer func() { stopped = tk.Sleep(time.Hour) }()
			tk.Sleep(time.Hour)
		})
		rt.Go("stopper", func(tk *lwtask.Task) {
			tk.Yield()
			rt.Stop()
		})
		runAll(t, rt)
		if !errors.Is(stopped, lwtask.ErrKilled) {
			t.Errorf("Sleep in the deferred call of a stopped task: %v, want ErrKilled", stopped)
		}
	})
}

// TestTimeoutErrors makes every kind of wait time out, with a deadline
// still to come and one already past, and checks that each error is a
// timeout by every test and, for descriptors, is wrapped once in the shape
// package os or package net gives it.
func TestTimeoutErrors(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		for _, when := range []struct {
			name     string
			deadline func() time.Time
		}{
			{"future", func() time.Time { return time.Now().Add(time.Millisecond) }},
			{"past", func() time.Time { return past }},
		} {
			rd, _ := newPipe(t, rt)
			_, fullW := newPipe(t, rt)
			fillUp(t, fullW)
			l := listen(t, rt, "tcp", "127.0.0.1:0")
			fork := utensil.New("fork 0")
			door := task.NewQueue("door")
			what := func(op string) string { return op + " (" + when.name + " deadline)" }

			rt.Go("queue", func(tk *lwtask.Task) {
				err := tk.WaitUntil(door, when.deadline())
				wantTimeout(t, what("WaitUntil"), err)
				if err != task.ErrTimeout {
					t.Errorf("WaitUntil: %v, want task.ErrTimeout itself", err)
				}
			})
			blocked := false
			rt.GoStep("raw queue", func(tk *lwtask.Task) lwtask.Status {
				if !blocked {
					blocked = true
					tk.BlockUntil(door, when.deadline())
					return lwtask.Yield
				}
				wantTimeout(t, what("BlockUntil"), tk.WaitErr())
				return lwtask.Finish
			})
			timedOut := task.NewQueue("timed out")
			rt.Go("holder", func(tk *lwtask.Task) {
				fork.Acquire(tk)
				tk.Wait(timedOut)
				fork.Release(tk)
			})
			rt.Go("utensil", func(tk *lwtask.Task) {
				wantTimeout(t, what("AcquireUntil"), fork.AcquireUntil(tk, when.deadline()))
				timedOut.Unblock()
			})
			rt.Go("pipe", func(tk *lwtask.Task) {
				rd.SetReadDeadline(when.deadline())
				_, err := rd.Read(tk, make([]byte, 1))
				wantTimeout(t, what("File.Read"), err)
				wantOnce(t, what("File.Read"), err)
				wantMessage(t, what("File.Read"), err, "read pipe: i/o timeout")

				c := lwtask.NewConn(rd)
				c.SetReadDeadline(when.deadline())
				_, err = c.ReadLine(tk)
				wantTimeout(t, what("Conn.ReadLine"), err)
				wantOnce(t, what("Conn.ReadLine"), err)
				wantMessage(t, what("Conn.ReadLine"), err, "read pipe: i/o timeout")

				fullW.SetWriteDeadline(when.deadline())
				n, err := fullW.Write(tk, []byte("spam"))
				wantTimeout(t, what("File.Write"), err)
				wantOnce(t, what("File.Write"), err)
				wantMessage(t, what("File.Write"), err, "write pipe: i/o timeout")
				if n != 0 {
					t.Errorf("File.Write to a full pipe wrote %d bytes", n)
				}

				w := lwtask.NewConn(fullW)
				w.SetWriteDeadline(when.deadline())
				w.WriteString(tk, "spam")
				err = w.Flush(tk)
				wantTimeout(t, what("Conn.Flush"), err)
				wantOnce(t, what("Conn.Flush"), err)
				wantMessage(t, what("Conn.Flush"), err, "write pipe: i/o timeout")
			})
			rawDeadline := when.deadline()
			rt.GoStep("raw pipe", func(tk *lwtask.Task) lwtask.Status {
				rd.SetReadDeadline(rawDeadline) // the same one at every step
				_, err := rd.TryRead(tk, make([]byte, 1))
				if err == lwtask.ErrAgain {
					return lwtask.Yield
				}
				wantTimeout(t, what("File.TryRead"), err)
				wantOnce(t, what("File.TryRead"), err)
				wantMessage(t, what("File.TryRead"), err, "read pipe: i/o timeout")
				return lwtask.Finish
			})
			rt.Go("socket", func(tk *lwtask.Task) {
				l.SetDeadline(when.deadline())
				_, err := l.Accept(tk)
				wantTimeout(t, what("Listener.Accept"), err)
				wantOnce(t, what("Listener.Accept"), err)
				wantMessage(t, what("Listener.Accept"), err, "accept tcp "+l.Addr().String()+": i/o timeout")
				l.SetDeadline(time.Time{})

				server, client := tcpPair(t, rt, tk, l)
				if server == nil {
					return
				}
				server.SetReadDeadline(when.deadline())
				_, err = server.ReadLine(tk)
				wantTimeout(t, what("TCP Conn.ReadLine"), err)
				wantOnce(t, what("TCP Conn.ReadLine"), err)
				wantMessage(t, what("TCP Conn.ReadLine"), err,
					fmt.Sprintf("read tcp %v->%v: i/o timeout", server.LocalAddr(), server.RemoteAddr()))

				err = fillConn(tk, client, when.deadline())
				wantTimeout(t, what("TCP Conn.Write"), err)
				wantOnce(t, what("TCP Conn.Write"), err)
				wantMessage(t, what("TCP Conn.Write"), err,
					fmt.Sprintf("write tcp %v->%v: i/o timeout", client.LocalAddr(), client.RemoteAddr()))
				client.SetWriteDeadline(when.deadline())
				client.WriteString(tk, "spam")
				err = client.Flush(tk)
				wantTimeout(t, what("TCP Conn.Flush"), err)
				wantOnce(t, what("TCP Conn.Flush"), err)
				wantMessage(t, what("TCP Conn.Flush"), err,
					fmt.Sprintf("write tcp %v->%v: i/o timeout", client.LocalAddr(), client.RemoteAddr()))
			})
			runAll(t, rt)
		}
	})
	t.Run("Dial", func(t *testing.T) {
		t.Skip("Dial takes no deadline (no DialDeadline, and a dialled File's deadlines are set only after it connects): a pending connect cannot time out")
	})
}

// TestClosedErrors calls every operation on a closed File, Conn and
// Listener, and closes descriptors that tasks are parked on: each error
// matches net.ErrClosed and os.ErrClosed, wrapped once.
func TestClosedErrors(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		rd, wr := newPipe(t, rt)
		full, fullW := newPipe(t, rt)
		fillUp(t, fullW)
		l := listen(t, rt, "tcp", "127.0.0.1:0")
		parkedErrs := map[string]error{}
		rt.Go("pipe reader", func(tk *lwtask.Task) { _, parkedErrs["File.Read"] = rd.Read(tk, make([]byte, 1)) })
		rt.Go("pipe writer", func(tk *lwtask.Task) { _, parkedErrs["File.Write"] = fullW.Write(tk, []byte("x")) })
		rt.Go("acceptor", func(tk *lwtask.Task) { _, parkedErrs["Listener.Accept"] = l.Accept(tk) })
		var conn *lwtask.Conn
		rt.Go("socket", func(tk *lwtask.Task) {
			ll := listen(t, rt, "tcp", "127.0.0.1:0")
			_, client := tcpPair(t, rt, tk, ll)
			if client == nil {
				return
			}
			// One task parks reading the connection while this one parks
			// flushing it, the peer reading nothing.
			rt.Go("line reader", func(tk *lwtask.Task) { _, parkedErrs["Conn.ReadLine"] = client.ReadLine(tk) })
			tk.Yield()
			conn = client
			if err := fillConn(tk, client, past); !errors.Is(err, lwtask.ErrTimeout) {
				t.Errorf("filling the connection: %v", err)
			}
			client.SetWriteDeadline(time.Time{})
			client.WriteString(tk, "spam")
			parkedErrs["Conn.Flush"] = client.Flush(tk)
		})
		rt.Go("closer", func(tk *lwtask.Task) {
			for i := 0; conn == nil || rt.FdQueues().Parked() < 5; i++ {
				if i == 1000 || t.Failed() {
					t.Errorf("%d tasks parked, want 5", rt.FdQueues().Parked())
					return
				}
				tk.Yield()
			}
			for _, c := range []io.Closer{rd, fullW, l} {
				if err := c.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}
			// The parked Flush's output cannot go out: Close says so.
			if err := conn.Close(); !errors.Is(err, lwtask.ErrUnsent) {
				t.Errorf("Close of the connection being flushed: %v, want ErrUnsent", err)
			}
		})
		runAll(t, rt)
		if len(parkedErrs) != 5 {
			t.Errorf("%d parked tasks woke: %v", len(parkedErrs), parkedErrs)
		}
		for op, err := range parkedErrs {
			wantClosed(t, op+", parked when closed", err)
			wantOnce(t, op+", parked when closed", err)
		}
		wantMessage(t, "File.Read, parked when closed", parkedErrs["File.Read"], "read pipe: use of closed descriptor")

		// And every call after Close.
		wr.Close()
		full.Close()
		var c *lwtask.Conn
		rt.Go("after", func(tk *lwtask.Task) {
			ll := listen(t, rt, "tcp", "127.0.0.1:0")
			server, client := tcpPair(t, rt, tk, ll)
			if server == nil {
				return
			}
			c = server
			client.Close()
			server.WriteString(tk, "unsent")
			if err := server.Close(); err != nil && !errors.Is(err, lwtask.ErrUnsent) {
				t.Errorf("Conn.Close: %v", err)
			}
			ll.Close()
			calls := map[string]func() error{
				"File.Read":        func() error { _, err := rd.Read(tk, make([]byte, 1)); return err },
				"File.Write":       func() error { _, err := wr.Write(tk, []byte("x")); return err },
				"File.CloseWrite":  wr.CloseWrite,
				"File.Close":       wr.Close,
				"Conn.ReadLine":    func() error { _, err := c.ReadLine(tk); return err },
				"Conn.Read":        func() error { _, err := c.Read(tk, make([]byte, 1)); return err },
				"Conn.WriteString": func() error { _, err := c.WriteString(tk, "x"); return err },
				"Conn.Write":       func() error { _, err := c.Write(tk, []byte("x")); return err },
				"Conn.Close":       c.Close,
				"Listener.Accept":  func() error { _, err := ll.Accept(tk); return err },
				"Listener.Close":   ll.Close,
			}
			for op, call := range calls {
				err := call()
				wantClosed(t, op+" after Close", err)
				wantOnce(t, op+" after Close", err)
			}
		})
		runAll(t, rt)
		rt.GoStep("raw after", func(tk *lwtask.Task) lwtask.Status {
			_, err := rd.TryRead(tk, make([]byte, 1))
			wantClosed(t, "File.TryRead after Close", err)
			wantOnce(t, "File.TryRead after Close", err)
			_, err = wr.TryWrite(tk, []byte("x"))
			wantClosed(t, "File.TryWrite after Close", err)
			wantOnce(t, "File.TryWrite after Close", err)
			return lwtask.Finish
		})
		runAll(t, rt)
	})
}

// TestErrorShapes checks the errors whose shape used to be a chain: a
// descriptor the select backend cannot watch, and networks lwtask does not
// serve, which Listen and Dial must refuse alike.
func TestErrorShapes(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		_, err := rt.Listen("udp", "127.0.0.1:0")
		var listenErr, dialErr error = err, nil
		rt.Go("dialler", func(tk *lwtask.Task) { _, dialErr = rt.Dial(tk, "udp", "127.0.0.1:9") })
		runAll(t, rt)
		for op, err := range map[string]error{"listen": listenErr, "dial": dialErr} {
			var oe *net.OpError
			var une net.UnknownNetworkError
			if !errors.As(err, &oe) || oe.Op != op || oe.Net != "udp" || !errors.As(err, &une) || string(une) != "udp" {
				t.Errorf("%s udp: %T %v, want a *net.OpError for net.UnknownNetworkError(\"udp\")", op, err, err)
			}
			wantOnce(t, op+" udp", err)
			wantMessage(t, op+" udp", err, op+" udp: unknown network udp")
		}

		// Connections refused, at a closed port and a missing socket file:
		// one *net.OpError naming the address, around the system's error.
		nl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closedPort := nl.Addr().String()
		nl.Close()
		missing := t.TempDir() + "/missing"
		var refused, absent error
		rt.Go("dialler", func(tk *lwtask.Task) {
			_, refused = rt.Dial(tk, "tcp", closedPort)
			_, absent = rt.Dial(tk, "unix", missing)
		})
		runAll(t, rt)
		for _, dial := range []struct {
			err        error
			net, addr  string
			errno      error
			wantString string
		}{
			{refused, "tcp", closedPort, unix.ECONNREFUSED, "dial tcp " + closedPort + ": " + unix.ECONNREFUSED.Error()},
			{absent, "unix", missing, unix.ENOENT, "dial unix " + missing + ": " + unix.ENOENT.Error()},
		} {
			var oe *net.OpError
			what := "Dial " + dial.net + " " + dial.addr
			if !errors.As(dial.err, &oe) || oe.Op != "dial" || oe.Net != dial.net || fmt.Sprint(oe.Addr) != dial.addr || !errors.Is(dial.err, dial.errno) {
				t.Errorf("%s: %T %v, want a *net.OpError for %v", what, dial.err, dial.err, dial.errno)
			}
			wantOnce(t, what, dial.err)
			wantMessage(t, what, dial.err, dial.wantString)
		}

		// A descriptor at FD_SETSIZE or above.
		r1, w1 := newPipe(t, rt) // empty: a read waits
		r2, w2 := newPipe(t, rt) // full: a write waits
		fillUp(t, w2)
		high, err := rt.NewFile(fdtest.DupAtLeast(t, r1.Fd(), 1024), "high")
		if err != nil {
			t.Fatal(err)
		}
		defer high.Close()
		highW, err := rt.NewFile(fdtest.DupAtLeast(t, w2.Fd(), 1024), "high write")
		if err != nil {
			t.Fatal(err)
		}
		defer highW.Close()
		var readErr, writeErr, lineErr error
		rt.Go("high", func(tk *lwtask.Task) {
			_, readErr = high.Read(tk, make([]byte, 1))
			_, writeErr = highW.Write(tk, []byte("x"))
			_, lineErr = lwtask.NewConn(high).ReadLine(tk)
		})
		if rt.Poller() != "select" {
			// The other backends wait on it: serve the waits.
			rt.Go("server", func(tk *lwtask.Task) {
				tk.Yield()
				w1.Write(tk, []byte("x"))
				tk.Yield()
				r2.Read(tk, make([]byte, 1<<20))
				w1.Write(tk, []byte("\n"))
			})
			runAll(t, rt)
			for op, err := range map[string]error{"read": readErr, "write": writeErr, "ReadLine": lineErr} {
				if err != nil {
					t.Errorf("%s of descriptor %d with %s: %v", op, high.Fd(), rt.Poller(), err)
				}
			}
			return
		}
		runAll(t, rt)
		for op, err := range map[string]error{"read": readErr, "write": writeErr, "ReadLine": lineErr} {
			msg := wantOnce(t, op+" of descriptor "+fmt.Sprint(high.Fd()), err)
			if !errors.Is(err, lwtask.ErrFdTooLarge) || strings.Count(msg, "FD_SETSIZE") != 1 {
				t.Errorf("%s of descriptor %d: %q, want ErrFdTooLarge mentioning FD_SETSIZE once", op, high.Fd(), msg)
			}
		}
		wantMessage(t, "read of a high descriptor", readErr, "read high: "+lwtask.ErrFdTooLarge.Error())
		wantMessage(t, "write of a high descriptor", writeErr, "write high write: "+lwtask.ErrFdTooLarge.Error())
	})
}

// TestOutOfDescriptors runs the process out of descriptors: what New,
// Pipe and Listen then return is the system's error, named after the call
// that failed, as package os names it, with no internal package name.
func TestOutOfDescriptors(t *testing.T) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	restore := func() {
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(restore)
	for _, name := range poller.Names() {
		t.Run(name, func(t *testing.T) {
			rt := newRuntime(t, lwtask.WithPoller(name))
			lowerLimit(t)
			_, newErr := lwtask.New(lwtask.WithPoller(name))
			_, _, pipeErr := rt.Pipe()
			_, listenErr := rt.Listen("tcp", "127.0.0.1:0")
			restore()
			for what, err := range map[string]error{"New": newErr, "Pipe": pipeErr} {
				var se *os.SyscallError
				if !errors.As(err, &se) || err != error(se) || !errors.Is(err, unix.EMFILE) {
					t.Errorf("%s: %T %v, want an *os.SyscallError for EMFILE", what, err, err)
				}
				for _, p := range internalPrefixes {
					if strings.Contains(fmt.Sprint(err), p) {
						t.Errorf("%s: %q names an internal package (%q)", what, err, p)
					}
				}
			}
			if !errors.Is(listenErr, unix.EMFILE) {
				t.Errorf("Listen: %v, want EMFILE", listenErr)
			}
		})
	}
}

// TestFlushAfterClose: Flush on a closed Conn with nothing gathered must
// say the Conn is closed, as every other call does.
func TestFlushAfterClose(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		a, _ := newSocketPair(t, rt)
		c := lwtask.NewConn(a)
		rt.Go("flusher", func(tk *lwtask.Task) {
			c.Close()
			err := c.Flush(tk)
			wantClosed(t, "Conn.Flush after Close", err)
			wantOnce(t, "Conn.Flush after Close", err)
		})
		runAll(t, rt)
	})
}
