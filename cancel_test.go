package lwtask_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/lwtask/lwtask"
	"github.com/lwtask/lwtask/internal/fdtest"
	"github.com/lwtask/lwtask/internal/tasktest"
	"github.com/lwtask/lwtask/task"
)

// Cancellation at every kind of I/O wait, on every poller backend. A
// cancelled wait returns at once with an error that matches
// context.Canceled and the cause, wrapped once as the descriptor's errors
// are; the task leaves the descriptor's queue; and the descriptor is none
// the worse: a second task waiting on it behind the first is neither woken
// nor stranded, and gets what it waits for, with nothing lost (a Conn keeps
// the output a cancelled Flush did not send).

// cnWaitCase is one kind of I/O wait, set up to be cancelled.
type cnWaitCase struct {
	// wait is the victim's wait, which must not end by itself.
	wait func(tk *lwtask.Task) error
	// onFd: the wait parks on a descriptor, so its task is counted in
	// Parked.
	onFd bool
	// wrapped: the error comes wrapped once, as an *os.PathError or a
	// *net.OpError, as the descriptor's errors do. Process.Wait's does
	// not (it waits for no descriptor, and returns exec's errors as they
	// are), nor task.Select's, which returns the task's cancellation as
	// it is, as its documentation says: it may wait on several
	// descriptors, and channels, at once.
	wrapped bool
	// twin is a second task's wait on the same thing, made behind the
	// victim's, which release then lets through, and verify, if set,
	// checks once it has: nil if no second task can wait alongside.
	twin    func(tk *lwtask.Task) error
	release func(t *testing.T, tk *lwtask.Task)
	verify  func(t *testing.T)
	// after, if set, runs once Run has returned.
	after func(t *testing.T)
}

// cnWaitKinds are the I/O waits a task can be cancelled in.
var cnWaitKinds = []struct {
	name    string
	prepare func(t *testing.T, rt *lwtask.Runtime) cnWaitCase
}{
	{"File.Read", func(t *testing.T, rt *lwtask.Runtime) cnWaitCase {
		rd, wr := newPipe(t, rt)
		read := func(tk *lwtask.Task) error {
			buf := make([]byte, 8)
			n, err := rd.Read(tk, buf)
			if err == nil && string(buf[:n]) != "x" {
				err = fmt.Errorf("read %q, want %q", buf[:n], "x")
			}
			return err
		}
		return cnWaitCase{
			wait: read, onFd: true, wrapped: true, twin: read,
			release: func(t *testing.T, tk *lwtask.Task) { cnWrite(t, tk, wr, "x") },
		}
	}},
	{"File.Write", func(t *testing.T, rt *lwtask.Runtime) cnWaitCase {
		rd, wr := newPipe(t, rt)
		fillUp(t, wr)
		var drained []byte
		return cnWaitCase{
			wait: func(tk *lwtask.Task) error {
				n, err := wr.Write(tk, []byte("victim"))
				if n != 0 {
					return fmt.Errorf("the victim wrote %d bytes into a full pipe (%v)", n, err)
				}
				return err
			},
			onFd: true, wrapped: true,
			twin: func(tk *lwtask.Task) error {
				_, err := wr.Write(tk, []byte("twin"))
				return err
			},
			release: func(t *testing.T, tk *lwtask.Task) { drained = fdtest.Drain(t, rd.Fd()) },
			verify: func(t *testing.T) {
				drained = append(drained, fdtest.Drain(t, rd.Fd())...)
				if !bytes.HasSuffix(drained, []byte("twin")) || bytes.Contains(drained, []byte("victim")) {
					t.Errorf("the pipe carried ...%q: want the twin's write, and nothing of the cancelled one", drained[max(0, len(drained)-20):])
				}
			},
		}
	}},
	{"Conn.ReadLine", func(t *testing.T, rt *lwtask.Runtime) cnWaitCase {
		a, b := newSocketPair(t, rt)
		c := lwtask.NewConn(a)
		return cnWaitCase{
			wait: func(tk *lwtask.Task) error { return cnReadLine(tk, c, "line") },
			onFd: true, wrapped: true,
			twin: func(tk *lwtask.Task) error { return cnReadLine(tk, c, "line") },
			release: func(t *testing.T, tk *lwtask.Task) {
				cnWrite(t, tk, b, "line\n")
			},
		}
	}},
	{"Conn.Flush", func(t *testing.T, rt *lwtask.Runtime) cnWaitCase {
		a, b := newSocketPair(t, rt)
		fillUp(t, a)
		c := lwtask.NewConn(a)
		var drained []byte
		return cnWaitCase{
			wait: func(tk *lwtask.Task) error {
				c.WriteString(tk, "victim\n")
				return c.Flush(tk)
			},
			onFd: true, wrapped: true,
			// The twin's Flush waits for the victim's, then sends what
			// the victim's left, and its own.
			twin: func(tk *lwtask.Task) error {
				c.WriteString(tk, "twin\n")
				return c.Flush(tk)
			},
			release: func(t *testing.T, tk *lwtask.Task) { drained = fdtest.Drain(t, b.Fd()) },
			verify: func(t *testing.T) {
				drained = append(drained, fdtest.Drain(t, b.Fd())...)
				if !bytes.HasSuffix(drained, []byte("victim\ntwin\n")) || c.Unflushed() != 0 {
					t.Errorf("the socket carried ...%q, %d bytes unflushed: the output of the cancelled Flush was lost",
						drained[max(0, len(drained)-40):], c.Unflushed())
				}
			},
		}
	}},
	{"Listener.Accept", func(t *testing.T, rt *lwtask.Runtime) cnWaitCase {
		l := listen(t, rt, "tcp", "127.0.0.1:0")
		accept := func(tk *lwtask.Task) error {
			c, err := l.Accept(tk)
			if err == nil {
				c.Close()
			}
			return err
		}
		return cnWaitCase{
			wait: accept, onFd: true, wrapped: true, twin: accept,
			release: func(t *testing.T, tk *lwtask.Task) {
				c, err := rt.Dial(tk, "tcp", l.Addr().String())
				if err != nil {
					t.Error(err)
					return
				}
				t.Cleanup(func() { c.Close() })
			},
		}
	}},
	{"Runtime.Dial", func(t *testing.T, rt *lwtask.Runtime) cnWaitCase {
		addr := tdFullBacklog(t) // a connect to it pends
		return cnWaitCase{
			wait: func(tk *lwtask.Task) error {
				c, err := rt.Dial(tk, "tcp", addr)
				if err == nil {
					c.Close()
					err = errors.New("Dial to a full backlog connected")
				}
				return err
			},
			onFd: true, wrapped: true,
		}
	}},
	{"Process.Wait", func(t *testing.T, rt *lwtask.Runtime) cnWaitCase {
		p := start(t, rt, child(t, "cat")) // exits at the end of its input
		return cnWaitCase{
			wait:    p.Wait,
			twin:    p.Wait,
			release: func(t *testing.T, tk *lwtask.Task) { p.Stdin.Close() },
			after:   func(t *testing.T) { tdReaped(t, p) },
		}
	}},
	{"Select/Conn.LineCase", func(t *testing.T, rt *lwtask.Runtime) cnWaitCase {
		a, b := newSocketPair(t, rt)
		c := lwtask.NewConn(a)
		return cnWaitCase{
			wait: func(tk *lwtask.Task) error { return cnSelect(tk, c.LineCase()) },
			twin: func(tk *lwtask.Task) error {
				if err := cnSelect(tk, c.LineCase()); err != nil {
					return err
				}
				return cnReadLine(tk, c, "line") // the case said it would not wait
			},
			onFd:    true,
			release: func(t *testing.T, tk *lwtask.Task) { cnWrite(t, tk, b, "line\n") },
		}
	}},
	{"Select/File.ReadableCase", func(t *testing.T, rt *lwtask.Runtime) cnWaitCase {
		rd, wr := newPipe(t, rt)
		return cnWaitCase{
			wait: func(tk *lwtask.Task) error { return cnSelect(tk, rd.ReadableCase()) },
			twin: func(tk *lwtask.Task) error {
				if err := cnSelect(tk, rd.ReadableCase()); err != nil {
					return err
				}
				buf := make([]byte, 8)
				if n, err := rd.TryRead(tk, buf); err != nil || string(buf[:n]) != "x" {
					return fmt.Errorf("TryRead once readable: %q, %v", buf[:n], err)
				}
				return nil
			},
			onFd:    true,
			release: func(t *testing.T, tk *lwtask.Task) { cnWrite(t, tk, wr, "x") },
		}
	}},
	{"Select/File.WritableCase", func(t *testing.T, rt *lwtask.Runtime) cnWaitCase {
		rd, wr := newPipe(t, rt)
		fillUp(t, wr)
		var drained []byte
		return cnWaitCase{
			wait: func(tk *lwtask.Task) error { return cnSelect(tk, wr.WritableCase()) },
			twin: func(tk *lwtask.Task) error {
				if err := cnSelect(tk, wr.WritableCase()); err != nil {
					return err
				}
				if n, err := wr.TryWrite(tk, []byte("twin")); n != 4 || err != nil {
					return fmt.Errorf("TryWrite once writable: %d, %v", n, err)
				}
				return nil
			},
			onFd:    true,
			release: func(t *testing.T, tk *lwtask.Task) { drained = fdtest.Drain(t, rd.Fd()) },
			verify: func(t *testing.T) {
				if drained = append(drained, fdtest.Drain(t, rd.Fd())...); !bytes.HasSuffix(drained, []byte("twin")) {
					t.Errorf("the pipe carried ...%q, want the twin's write", drained[max(0, len(drained)-20):])
				}
			},
		}
	}},
}

// cnSelect is a Select over one descriptor's case, and a timer that does
// not fire; it returns the error of the case, or why the Select ended
// without one.
func cnSelect(tk *lwtask.Task, c task.Case) error {
	i, err := task.Select(tk, c, task.After(time.Hour))
	if err == nil && i != 0 {
		err = fmt.Errorf("Select returned case %d", i)
	}
	return err
}

func cnReadLine(tk *lwtask.Task, c *lwtask.Conn, want string) error {
	line, err := c.ReadLine(tk)
	if err == nil && string(line) != want {
		err = fmt.Errorf("ReadLine: %q, want %q", line, want)
	}
	return err
}

func cnWrite(t *testing.T, tk *lwtask.Task, f *lwtask.File, s string) {
	t.Helper()
	if _, err := f.Write(tk, []byte(s)); err != nil {
		t.Error(err)
	}
}

// TestCancelEachIOWait cancels a task in each kind of I/O wait, on every
// backend: see the comment at the top of this file for what must hold.
func TestCancelEachIOWait(t *testing.T) {
	for _, kind := range cnWaitKinds {
		t.Run(kind.name, func(t *testing.T) {
			eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
				cnCancelDuringWait(t, rt, kind.name, kind.prepare(t, rt), fmt.Errorf("cancelled the %s", kind.name))
			})
		})
	}
	// With no cause, context.Canceled is the cause.
	t.Run("File.Read/no cause", func(t *testing.T) {
		eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
			cnCancelDuringWait(t, rt, "File.Read", cnWaitKinds[0].prepare(t, rt), nil)
		})
	})
}

func cnCancelDuringWait(t *testing.T, rt *lwtask.Runtime, name string, wc cnWaitCase, cause error) {
	var err error
	parkedAfter := -1
	victim := rt.Go("victim", func(tk *lwtask.Task) {
		err = wc.wait(tk)
		// At once, before anyone else runs: the victim no longer
		// counts among the tasks parked on descriptors.
		parkedAfter = rt.FdQueues().Parked()
	})
	var twin *lwtask.Task
	var twinErr error
	twinDone := false
	finished := lwtask.Queue{Label: "twin finished"}
	if wc.twin != nil {
		twin = rt.Go("twin", func(tk *lwtask.Task) {
			if !tasktest.UntilBlocked(t, tk, victim) { // behind the victim
				return
			}
			twinErr = wc.twin(tk)
			twinDone = true
			finished.Unblock()
		})
	}
	rt.Go("canceller", func(tk *lwtask.Task) {
		if !tasktest.UntilBlocked(t, tk, victim, twin) {
			return
		}
		parkedBefore := rt.FdQueues().Parked()
		victim.Cancel(cause)
		for i := 0; !victim.Done(); i++ {
			if i == 10 {
				t.Errorf("the victim has not ended 10 turns after its cancellation: %v", victim.Info())
				rt.Kill(victim)
				break
			}
			tk.Yield()
		}
		want := parkedBefore
		if wc.onFd {
			want--
		}
		if parkedAfter != want {
			t.Errorf("as its cancelled wait returned, %d task(s) were parked on descriptors, want %d", parkedAfter, want)
		}
		if twin == nil {
			return
		}
		if twinDone {
			t.Errorf("the victim's cancellation ended the twin's wait too: %v", twinErr)
			return
		}
		wc.release(t, tk)
		if !twinDone {
			tk.Wait(&finished)
		}
		if twinErr != nil {
			t.Errorf("the twin's wait, after the victim's was cancelled: %v", twinErr)
		}
		if wc.verify != nil {
			wc.verify(t)
		}
	})
	runAll(t, rt)
	if wc.after != nil {
		wc.after(t)
	}
	cnWantCanceled(t, name, err, cause)
	if wc.wrapped {
		wantOnce(t, name, err)
	}
	if rt.Len() != 0 || rt.FdQueues().Parked() != 0 {
		t.Errorf("after Run: %d task(s), %d parked", rt.Len(), rt.FdQueues().Parked())
	}
}

// cnWantCanceled reports unless err is a cancellation by cause
// (context.Canceled if nil) under errors.Is. Tasks may call it.
func cnWantCanceled(t *testing.T, what string, err, cause error) {
	t.Helper()
	if cause == nil {
		cause = context.Canceled
	}
	if !errors.Is(err, context.Canceled) || !errors.Is(err, cause) {
		t.Errorf("%s: %v, want a cancellation (context.Canceled) caused by %q", what, err, cause)
	}
	if errors.Is(err, lwtask.ErrTimeout) || errors.Is(err, lwtask.ErrClosed) || errors.Is(err, lwtask.ErrKilled) {
		t.Errorf("%s: %v, which reads as a timeout, a close or a kill too", what, err)
	}
}

// TestCancelIOMoveOnAfter: a ReadLine cut short by a MoveOnAfter's
// deadline ends the scope quietly, as a wait of any kind would; FailAfter
// reports it as ErrTooSlow. The connection reads on afterwards, with no
// task left parked on it.
func TestCancelIOMoveOnAfter(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		a, b := newSocketPair(t, rt)
		c := lwtask.NewConn(a)
		var inner, moved, failed error
		var parked int
		rt.Go("reader", func(tk *lwtask.Task) {
			moved = tk.MoveOnAfter(10*time.Millisecond, func() error {
				_, inner = c.ReadLine(tk)
				return inner
			})
			failed = tk.FailAfter(10*time.Millisecond, func() error {
				_, err := c.ReadLine(tk)
				return err
			})
			parked = rt.FdQueues().Parked()
			cnWrite(t, tk, b, "late line\n")
			if err := cnReadLine(tk, c, "late line"); err != nil {
				t.Errorf("ReadLine after the scopes: %v", err)
			}
		})
		runAll(t, rt)
		if moved != nil || failed != task.ErrTooSlow {
			t.Errorf("MoveOnAfter around ReadLine: %v (want nil); FailAfter: %v (want ErrTooSlow)", moved, failed)
		}
		cnWantCanceled(t, "ReadLine cut short", inner, context.DeadlineExceeded)
		wantOnce(t, "ReadLine cut short", inner)
		if parked != 0 {
			t.Errorf("%d task(s) parked once both scopes were over", parked)
		}
	})
}

// TestCancelFlushKeepsOutputWhateverTheCause cancels a Flush with a cause
// that is itself an I/O error (a group's first failure often is: another
// connection reset by its peer). The connection being flushed is not
// broken: its output must stay, for the next Flush to send.
func TestCancelFlushKeepsOutputWhateverTheCause(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		a, b := newSocketPair(t, rt)
		fillUp(t, a)
		c := lwtask.NewConn(a)
		cause := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
		var first, second error
		victim := rt.Go("flusher", func(tk *lwtask.Task) {
			c.WriteString(tk, "goodbye\n")
			first = c.Flush(tk)
		})
		rt.Go("canceller", func(tk *lwtask.Task) {
			if !tasktest.UntilBlocked(t, tk, victim) {
				return
			}
			victim.Cancel(cause)
			for !victim.Done() {
				tk.Yield()
			}
			if c.Unflushed() != len("goodbye\n") {
				t.Errorf("%d bytes left to flush after the cancelled Flush, want %d", c.Unflushed(), len("goodbye\n"))
			}
			drained := fdtest.Drain(t, b.Fd())
			second = c.Flush(tk)
			if drained = append(drained, fdtest.Drain(t, b.Fd())...); !bytes.HasSuffix(drained, []byte("goodbye\n")) {
				t.Errorf("the socket carried ...%q, want the goodbye", drained[max(0, len(drained)-20):])
			}
		})
		runAll(t, rt)
		cnWantCanceled(t, "the cancelled Flush", first, cause)
		if second != nil {
			t.Errorf("the next Flush: %v", second)
		}
	})
}

// TestCancelWhileBusyThenIO cancels a task that is not waiting: it takes
// effect at its next I/O wait, which fails at once.
func TestCancelWhileBusyThenIO(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		rd, _ := newPipe(t, rt)
		cause := errors.New("stop reading")
		var readErr error
		rt.Go("self", func(tk *lwtask.Task) {
			tk.Cancel(cause)
			_, readErr = rd.Read(tk, make([]byte, 1)) // empty: a wait, cancelled
		})
		runAll(t, rt)
		cnWantCanceled(t, "Read of an empty pipe by a cancelled task", readErr, cause)
		var pe *os.PathError
		if !errors.As(readErr, &pe) || pe.Op != "read" {
			t.Errorf("Read's error %v is not an *os.PathError for read", readErr)
		}
		if rt.FdQueues().Parked() != 0 {
			t.Errorf("%d parked", rt.FdQueues().Parked())
		}
	})
}
