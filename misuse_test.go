package lwtask_test

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lwtask/lwtask"
	"github.com/lwtask/lwtask/internal/core"
	"github.com/lwtask/lwtask/internal/fdtest"
	"github.com/lwtask/lwtask/internal/tasktest"
	"github.com/lwtask/lwtask/task"
	"github.com/lwtask/lwtask/utensil"
)

// Misuse is caught on every path, with a clear message. Every operation
// that takes a task must be called with the running task of the Runtime
// it belongs to. Called with any other task, it panics at once, every
// time, also when it would not have had to wait (data to read, room to
// write, a connection pending), and it does nothing first: what it would
// have read, written or accepted is still there for the rightful task.
// The message names both tasks, e.g. "lwtask: Read called with B#2, but
// A#1 is running". Catching the panic leaves the runtime working.

// A muCase is one operation on resources made ready for it.
type muCase struct {
	// call makes the operation with tk.
	call func(tk *lwtask.Task)
	// setup, if set, is run by the rightful task before the misuse, where
	// one runs, to make the operation's state richer (output gathered,
	// input buffered).
	setup func(t *testing.T, tk *lwtask.Task)
	// verify is run by the rightful task after the misuse: the operation
	// finds everything as it was, and works.
	verify func(t *testing.T, tk *lwtask.Task)
}

// A muOp is an operation that takes a task.
type muOp struct {
	name  string // the operation, for test messages
	op    string // the operation as its panic names it
	bound bool   // it belongs to a Runtime, which refuses another's tasks
	// prepare makes the resources, outside any task, so that the
	// operation could complete at once.
	prepare func(t *testing.T, rt *lwtask.Runtime) muCase
}

// muOps are every operation that takes a task, on resources of rt.
var muOps = []muOp{
	{"File.Read", "Read", true, func(t *testing.T, rt *lwtask.Runtime) muCase {
		rd, wr := newPipe(t, rt)
		muWrite(t, wr.Fd(), "data")
		return muCase{
			call:   func(tk *lwtask.Task) { rd.Read(tk, make([]byte, 8)) },
			verify: func(t *testing.T, tk *lwtask.Task) { muRead(t, tk, rd, "data") },
		}
	}},
	{"File.TryRead", "TryRead", true, func(t *testing.T, rt *lwtask.Runtime) muCase {
		rd, wr := newPipe(t, rt)
		muWrite(t, wr.Fd(), "data")
		return muCase{
			call:   func(tk *lwtask.Task) { rd.TryRead(tk, make([]byte, 8)) },
			verify: func(t *testing.T, tk *lwtask.Task) { muRead(t, tk, rd, "data") },
		}
	}},
	{"File.Write", "Write", true, func(t *testing.T, rt *lwtask.Runtime) muCase {
		rd, wr := newPipe(t, rt)
		return muCase{
			call:   func(tk *lwtask.Task) { wr.Write(tk, []byte("misuse")) },
			verify: func(t *testing.T, tk *lwtask.Task) { muWritten(t, tk, rd, wr) },
		}
	}},
	{"File.TryWrite", "TryWrite", true, func(t *testing.T, rt *lwtask.Runtime) muCase {
		rd, wr := newPipe(t, rt)
		return muCase{
			call:   func(tk *lwtask.Task) { wr.TryWrite(tk, []byte("misuse")) },
			verify: func(t *testing.T, tk *lwtask.Task) { muWritten(t, tk, rd, wr) },
		}
	}},
	{"Conn.Read", "Read", true, func(t *testing.T, rt *lwtask.Runtime) muCase {
		c, _ := muConn(t, rt, "line\n")
		return muCase{
			call:   func(tk *lwtask.Task) { c.Read(tk, make([]byte, 8)) },
			verify: func(t *testing.T, tk *lwtask.Task) { muLine(t, tk, c, "line") },
		}
	}},
	{"Conn.ReadFull", "Read", true, func(t *testing.T, rt *lwtask.Runtime) muCase {
		c, _ := muConn(t, rt, "line\n")
		return muCase{
			call:   func(tk *lwtask.Task) { c.ReadFull(tk, make([]byte, 5)) },
			verify: func(t *testing.T, tk *lwtask.Task) { muLine(t, tk, c, "line") },
		}
	}},
	{"Conn.ReadLine", "ReadLine", true, func(t *testing.T, rt *lwtask.Runtime) muCase {
		c, _ := muConn(t, rt, "one\ntwo\n")
		readOne := false
		return muCase{
			call: func(tk *lwtask.Task) { c.ReadLine(tk) },
			// The second line is then in the Conn's buffer: ReadLine
			// would not even look at the descriptor.
			setup: func(t *testing.T, tk *lwtask.Task) { muLine(t, tk, c, "one"); readOne = true },
			verify: func(t *testing.T, tk *lwtask.Task) {
				if !readOne {
					muLine(t, tk, c, "one")
				}
				muLine(t, tk, c, "two")
			},
		}
	}},
	{"Conn.Write", "Write", true, func(t *testing.T, rt *lwtask.Runtime) muCase {
		c, peer := muConn(t, rt, "")
		return muCase{
			call:   func(tk *lwtask.Task) { c.Write(tk, []byte("misuse")) },
			verify: func(t *testing.T, tk *lwtask.Task) { muFlushed(t, tk, c, peer, "") },
		}
	}},
	{"Conn.WriteString", "WriteString", true, func(t *testing.T, rt *lwtask.Runtime) muCase {
		c, peer := muConn(t, rt, "")
		return muCase{
			call:   func(tk *lwtask.Task) { c.WriteString(tk, "misuse") },
			verify: func(t *testing.T, tk *lwtask.Task) { muFlushed(t, tk, c, peer, "") },
		}
	}},
	{"Conn.Flush", "Flush", true, func(t *testing.T, rt *lwtask.Runtime) muCase {
		c, peer := muConn(t, rt, "")
		pending := ""
		return muCase{
			call: func(tk *lwtask.Task) { c.Flush(tk) },
			setup: func(t *testing.T, tk *lwtask.Task) {
				pending = "pending\n"
				c.WriteString(tk, pending)
			},
			verify: func(t *testing.T, tk *lwtask.Task) { muFlushed(t, tk, c, peer, pending) },
		}
	}},
	{"Conn.CloseWrite", "CloseWrite", true, func(t *testing.T, rt *lwtask.Runtime) muCase {
		c, peer := muConn(t, rt, "")
		return muCase{
			call: func(tk *lwtask.Task) { c.CloseWrite(tk) },
			verify: func(t *testing.T, tk *lwtask.Task) {
				// Not shut down: what c writes still arrives.
				c.WriteString(tk, "open\n")
				muFlushed(t, tk, c, peer, "open\n")
			},
		}
	}},
	{"Listener.Accept", "Accept", true, func(t *testing.T, rt *lwtask.Runtime) muCase {
		l := muPending(t, rt)
		return muCase{
			call: func(tk *lwtask.Task) {
				if c, err := l.Accept(tk); err == nil {
					c.Close()
				}
			},
			verify: func(t *testing.T, tk *lwtask.Task) { muAccepted(t, tk, l) },
		}
	}},
	{"Listener.TryAccept", "TryAccept", true, func(t *testing.T, rt *lwtask.Runtime) muCase {
		l := muPending(t, rt)
		return muCase{
			call: func(tk *lwtask.Task) {
				if c, err := l.TryAccept(tk); err == nil {
					c.Close()
				}
			},
			verify: func(t *testing.T, tk *lwtask.Task) { muAccepted(t, tk, l) },
		}
	}},
	{"Runtime.Dial", "Dial", true, func(t *testing.T, rt *lwtask.Runtime) muCase {
		l := listen(t, rt, "tcp", "127.0.0.1:0")
		return muCase{
			call: func(tk *lwtask.Task) {
				if c, err := rt.Dial(tk, "tcp", l.Addr().String()); err == nil {
					c.Close()
				}
			},
			verify: func(t *testing.T, tk *lwtask.Task) {
				// No connection was made.
				l.SetDeadline(time.Now())
				if c, err := l.Accept(tk); !isTimeout(err) {
					t.Errorf("Accept after the misused Dial: %v, %v; want a timeout", c, err)
					if c != nil {
						c.Close()
					}
				}
				l.SetDeadline(time.Time{})
			},
		}
	}},
	{"Process.Wait", "Wait", true, func(t *testing.T, rt *lwtask.Runtime) muCase {
		p := start(t, rt, child(t, "cat"))
		return muCase{
			call: func(tk *lwtask.Task) { p.Wait(tk) },
			verify: func(t *testing.T, tk *lwtask.Task) {
				p.Stdin.Close()
				if err := p.Wait(tk); err != nil {
					t.Errorf("Process.Wait: %v", err)
				}
			},
		}
	}},
	{"Task.Wait", "Wait", false, func(t *testing.T, rt *lwtask.Runtime) muCase {
		q := &lwtask.Queue{Label: "q"}
		return muCase{
			call:   func(tk *lwtask.Task) { tk.Wait(q) },
			verify: func(t *testing.T, tk *lwtask.Task) { tdQueueEmpty(t, q) },
		}
	}},
	{"Task.WaitUntil", "WaitUntil", false, func(t *testing.T, rt *lwtask.Runtime) muCase {
		q := &lwtask.Queue{Label: "q"}
		return muCase{
			call:   func(tk *lwtask.Task) { tk.WaitUntil(q, time.Now().Add(time.Hour)) },
			verify: func(t *testing.T, tk *lwtask.Task) { tdQueueEmpty(t, q) },
		}
	}},
	{"Task.Sleep", "Sleep", false, func(t *testing.T, rt *lwtask.Runtime) muCase {
		return muCase{
			call:   func(tk *lwtask.Task) { tk.Sleep(0) },
			verify: func(t *testing.T, tk *lwtask.Task) { muNoError(t, "Sleep", tk.Sleep(0)) },
		}
	}},
	{"Task.Yield", "Yield", false, func(t *testing.T, rt *lwtask.Runtime) muCase {
		return muCase{
			call:   func(tk *lwtask.Task) { tk.Yield() },
			verify: func(t *testing.T, tk *lwtask.Task) { tk.Yield() },
		}
	}},
	{"Task.Checkpoint", "Checkpoint", false, func(t *testing.T, rt *lwtask.Runtime) muCase {
		return muCase{
			call:   func(tk *lwtask.Task) { tk.Checkpoint() },
			verify: func(t *testing.T, tk *lwtask.Task) { tk.Checkpoint() },
		}
	}},
	{"Task.Block", "Block", false, func(t *testing.T, rt *lwtask.Runtime) muCase {
		q := &lwtask.Queue{Label: "q"}
		return muCase{
			call:   func(tk *lwtask.Task) { tk.Block(q) },
			verify: func(t *testing.T, tk *lwtask.Task) { tdQueueEmpty(t, q) },
		}
	}},
	{"Task.BlockUntil", "BlockUntil", false, func(t *testing.T, rt *lwtask.Runtime) muCase {
		q := &lwtask.Queue{Label: "q"}
		return muCase{
			call:   func(tk *lwtask.Task) { tk.BlockUntil(q, time.Now().Add(time.Hour)) },
			verify: func(t *testing.T, tk *lwtask.Task) { tdQueueEmpty(t, q) },
		}
	}},
	{"Task.Spend", "Spend", false, func(t *testing.T, rt *lwtask.Runtime) muCase {
		return muCase{call: func(tk *lwtask.Task) { tk.Spend() }, verify: func(*testing.T, *lwtask.Task) {}}
	}},
	// A utensil knows no Runtime: its misuse is caught by the turn's
	// accounting, which names itself rather than Acquire or Request.
	{"utensil.Acquire", "Acquire", false, func(t *testing.T, rt *lwtask.Runtime) muCase {
		u := utensil.New("fork")
		return muCase{call: func(tk *lwtask.Task) { u.Acquire(tk) }, verify: func(t *testing.T, tk *lwtask.Task) { muFork(t, tk, u) }}
	}},
	{"utensil.Request", "Request", false, func(t *testing.T, rt *lwtask.Runtime) muCase {
		u := utensil.New("fork")
		return muCase{call: func(tk *lwtask.Task) { u.Request(tk) }, verify: func(t *testing.T, tk *lwtask.Task) { muFork(t, tk, u) }}
	}},
	// The descriptor queues' own waits, for tasks that manage their
	// descriptors themselves. Like a utensil they know no Runtime.
	{"FdQueues.WaitReadable", "WaitReadable", false, func(t *testing.T, rt *lwtask.Runtime) muCase {
		rd, wr := newPipe(t, rt)
		muWrite(t, wr.Fd(), "data")
		return muCase{
			call:   func(tk *lwtask.Task) { rt.FdQueues().WaitReadable(tk, rd.Fd(), time.Time{}) },
			verify: func(t *testing.T, tk *lwtask.Task) { muRead(t, tk, rd, "data") },
		}
	}},
	{"FdQueues.WaitWritable", "WaitWritable", false, func(t *testing.T, rt *lwtask.Runtime) muCase {
		rd, wr := newPipe(t, rt)
		return muCase{
			call:   func(tk *lwtask.Task) { rt.FdQueues().WaitWritable(tk, wr.Fd(), time.Time{}) },
			verify: func(t *testing.T, tk *lwtask.Task) { muWritten(t, tk, rd, wr) },
		}
	}},
	{"FdQueues.BlockForReading", "BlockForReading", false, func(t *testing.T, rt *lwtask.Runtime) muCase {
		rd, wr := newPipe(t, rt)
		muWrite(t, wr.Fd(), "data")
		return muCase{
			call:   func(tk *lwtask.Task) { rt.FdQueues().BlockForReading(tk, rd.Fd(), time.Time{}) },
			verify: func(t *testing.T, tk *lwtask.Task) { muRead(t, tk, rd, "data") },
		}
	}},
	{"FdQueues.BlockForWriting", "BlockForWriting", false, func(t *testing.T, rt *lwtask.Runtime) muCase {
		rd, wr := newPipe(t, rt)
		return muCase{
			call:   func(tk *lwtask.Task) { rt.FdQueues().BlockForWriting(tk, wr.Fd(), time.Time{}) },
			verify: func(t *testing.T, tk *lwtask.Task) { muWritten(t, tk, rd, wr) },
		}
	}},
}

func muWrite(t *testing.T, fd int, s string) {
	t.Helper()
	if _, err := unix.Write(fd, []byte(s)); err != nil {
		t.Fatal(err)
	}
}

func muNoError(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

// muRead checks that rd still holds want.
func muRead(t *testing.T, tk *lwtask.Task, rd *lwtask.File, want string) {
	t.Helper()
	buf := make([]byte, 64)
	if n, err := rd.Read(tk, buf); string(buf[:n]) != want || err != nil {
		t.Errorf("read %q, %v; want %q", buf[:n], err, want)
	}
}

// muWritten checks that nothing was written to wr, and that tk can write.
func muWritten(t *testing.T, tk *lwtask.Task, rd, wr *lwtask.File) {
	t.Helper()
	if got := fdtest.Drain(t, rd.Fd()); len(got) != 0 {
		t.Errorf("the misuse wrote %q", got)
	}
	if _, err := wr.Write(tk, []byte("ok")); err != nil {
		t.Error(err)
	}
	muRead(t, tk, rd, "ok")
}

// muConn returns a Conn and its peer, with input waiting to be read.
func muConn(t *testing.T, rt *lwtask.Runtime, input string) (*lwtask.Conn, *lwtask.File) {
	t.Helper()
	a, b := newSocketPair(t, rt)
	if input != "" {
		muWrite(t, b.Fd(), input)
	}
	return lwtask.NewConn(a), b
}

func muLine(t *testing.T, tk *lwtask.Task, c *lwtask.Conn, want string) {
	t.Helper()
	if line, err := c.ReadLine(tk); string(line) != want || err != nil {
		t.Errorf("ReadLine: %q, %v; want %q", line, err, want)
	}
}

// muFlushed checks that c holds just pending, unflushed, and that a Flush
// sends it and nothing else.
func muFlushed(t *testing.T, tk *lwtask.Task, c *lwtask.Conn, peer *lwtask.File, pending string) {
	t.Helper()
	if n := c.Unflushed(); n != len(pending) {
		t.Errorf("%d bytes unflushed, want %d", n, len(pending))
	}
	if err := c.Flush(tk); err != nil {
		t.Error(err)
	}
	if got := string(fdtest.Drain(t, peer.Fd())); got != pending {
		t.Errorf("the peer got %q, want %q", got, pending)
	}
}

// muPending returns a listener with a connection pending.
func muPending(t *testing.T, rt *lwtask.Runtime) *lwtask.Listener {
	t.Helper()
	l := listen(t, rt, "tcp", "127.0.0.1:0")
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return l
}

// muAccepted checks that the pending connection is still there.
func muAccepted(t *testing.T, tk *lwtask.Task, l *lwtask.Listener) {
	t.Helper()
	c, err := l.Accept(tk)
	if err != nil {
		t.Error(err)
		return
	}
	c.Close()
}

func muFork(t *testing.T, tk *lwtask.Task, u *utensil.Utensil) {
	t.Helper()
	if u.Holder() != nil || u.Waiting() != 0 {
		t.Errorf("the fork is held by %v, with %d waiting", u.Holder(), u.Waiting())
	}
	muNoError(t, "Acquire", u.Acquire(tk))
	muNoError(t, "Release", u.Release(tk))
}

// muRecover calls f and returns what it panicked with, and the message.
// Misuse panics are errors; anything else is let go, in particular the
// runtime's own panic that unwinds a task being ended.
func muRecover(f func()) (v any, msg string) {
	defer func() {
		if v = recover(); v != nil {
			if _, ok := v.(error); !ok {
				panic(v)
			}
			msg = fmt.Sprint(v)
		}
	}()
	f()
	return nil, ""
}

// muWant is the message of op called with tk, with detail on why not.
func muWant(op string, tk *lwtask.Task, detail string) string {
	return fmt.Sprintf("lwtask: %s called with %v, but %s", op, tk, detail)
}

// muCheck makes the misuse three times: each must panic at once with
// want, as a *core.MisuseError (Yield's panic formats its message as it is
// printed, and becomes a MisuseError where the runtime recovers it).
func muCheck(t *testing.T, o muOp, call func(), want string) {
	t.Helper()
	for i := range 3 {
		v, msg := muRecover(call)
		if v == nil {
			t.Errorf("%s: misuse %d did not panic; want %q", o.name, i+1, want)
			continue
		}
		if msg != want {
			t.Errorf("%s: misuse %d panicked with %q, want %q", o.name, i+1, msg, want)
		}
		var me *core.MisuseError
		if err, ok := v.(error); !ok || (o.op != "Yield" && !errors.As(err, &me)) {
			t.Errorf("%s: panic value %T, want a *core.MisuseError", o.name, v)
		}
	}
}

type muPrepared struct {
	muOp
	muCase
}

func muPrepare(t *testing.T, rt *lwtask.Runtime, keep func(muOp) bool) []muPrepared {
	var cases []muPrepared
	for _, o := range muOps {
		if keep == nil || keep(o) {
			cases = append(cases, muPrepared{o, o.prepare(t, rt)})
		}
	}
	return cases
}

// TestMisuseOtherTask calls every operation with a task of the same
// Runtime that is not running: blocked, or not yet started, or never
// scheduled; the caller is a generator-style task or a raw step.
func TestMisuseOtherTask(t *testing.T) {
	t.Run("generator", func(t *testing.T) {
		eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
			cases := muPrepare(t, rt, nil)
			bq := lwtask.Queue{Label: "B's queue"}
			b := rt.Go("B", func(tk *lwtask.Task) { tk.Wait(&bq) })
			var late *lwtask.Task
			rt.Go("A", func(tk *lwtask.Task) {
				if !tasktest.UntilBlocked(t, tk, b) {
					return
				}
				late = rt.Go("late", func(tk *lwtask.Task) {}) // ready, never run yet
				never := task.New("never", func(*task.Task) {})
				for _, c := range cases {
					if c.setup != nil {
						c.setup(t, tk)
					}
					running := tk.String() + " is running"
					lateState := late.State() // ready, or done once A has waited
					muCheck(t, c.muOp, func() { c.call(b) }, muWant(c.op, b, running))
					muCheck(t, c.muOp, func() { c.call(late) }, muWant(c.op, late, running))
					muCheck(t, c.muOp, func() { c.call(never) }, muWant(c.op, never, "no task is running"))
					if b.State() != task.Blocked || bq.Len() != 1 || late.State() != lateState || never.State() != task.Idle || rt.Current() != tk {
						t.Errorf("%s: after the misuse B is %v (%d in its queue), late is %v (was %v), never is %v, %v runs",
							c.name, b.State(), bq.Len(), late.State(), lateState, never.State(), rt.Current())
					}
					c.verify(t, tk)
				}
				bq.Unblock()
			})
			runAll(t, rt)
			if !b.Done() || !late.Done() || rt.FdQueues().Parked() != 0 {
				t.Errorf("after Run: B done %v, late done %v, %d parked", b.Done(), late.Done(), rt.FdQueues().Parked())
			}
		})
	})
	t.Run("raw step", func(t *testing.T) {
		eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
			cases := muPrepare(t, rt, nil)
			bq := lwtask.Queue{Label: "B's queue"}
			b := rt.Go("B", func(tk *lwtask.Task) { tk.Wait(&bq) })
			a := rt.GoStep("A", func(tk *lwtask.Task) lwtask.Status {
				if b.State() != task.Blocked {
					return lwtask.Yield
				}
				for _, c := range cases {
					muCheck(t, c.muOp, func() { c.call(b) }, muWant(c.op, b, tk.String()+" is running"))
				}
				return lwtask.Finish
			})
			rt.Go("checker", func(tk *lwtask.Task) {
				for !a.Done() {
					tk.Yield()
				}
				if b.State() != task.Blocked || bq.Len() != 1 {
					t.Errorf("after the misuse B is %v, %d in its queue", b.State(), bq.Len())
				}
				for _, c := range cases {
					c.verify(t, tk)
				}
				bq.Unblock()
			})
			runAll(t, rt)
		})
	})
}

// TestMisuseOtherRuntime uses one Runtime's descriptors with a task of
// another: the running task of the other Runtime, and a task of the other
// Runtime called from a task of this one. Either way the message says the
// task belongs to another Runtime. The operations that belong to no
// Runtime (a task's own waits, a utensil, the descriptor queues) refuse a
// task that is not running in its own.
func TestMisuseOtherRuntime(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		other, err := lwtask.New(lwtask.WithPoller(rt.Poller()))
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()

		// The other Runtime's running task uses this Runtime's descriptors.
		bound := func(o muOp) bool { return o.bound }
		cases := muPrepare(t, rt, bound)
		other.Go("T", func(tk *lwtask.Task) {
			for _, c := range cases {
				muCheck(t, c.muOp, func() { c.call(tk) }, muWant(c.op, tk, "it belongs to another Runtime"))
			}
		})
		runAll(t, other)
		rt.Go("A", func(tk *lwtask.Task) {
			for _, c := range cases {
				c.verify(t, tk)
			}
		})
		runAll(t, rt)

		// This Runtime's running task uses another Runtime's task.
		cases = muPrepare(t, rt, nil)
		ran := false
		u := other.Go("U", func(tk *lwtask.Task) {
			tk.Yield()
			muNoError(t, "U's Sleep", tk.Sleep(time.Millisecond))
			ran = true
		})
		rt.Go("A", func(tk *lwtask.Task) {
			for _, c := range cases {
				if c.setup != nil {
					c.setup(t, tk)
				}
				want := muWant(c.op, u, "no task is running") // in u's Runtime
				if c.bound {
					want = muWant(c.op, u, "it belongs to another Runtime")
				}
				muCheck(t, c.muOp, func() { c.call(u) }, want)
				c.verify(t, tk)
			}
		})
		runAll(t, rt)
		runAll(t, other) // u is unharmed
		if !ran {
			t.Error("the other Runtime's task did not run to its end")
		}
	})
}

// TestMisuseNoTaskRunning calls every operation with a task when no task
// is running at all: from a function posted to the Runtime, and from
// outside Run, before and after it.
func TestMisuseNoTaskRunning(t *testing.T) {
	t.Run("posted", func(t *testing.T) {
		eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
			cases := muPrepare(t, rt, nil)
			q := lwtask.Queue{Label: "posted"}
			rt.Go("A", func(tk *lwtask.Task) {
				for _, c := range cases {
					if c.setup != nil {
						c.setup(t, tk)
					}
					err := rt.Post(func() {
						if rt.Current() != nil {
							t.Errorf("%v runs in a posted function", rt.Current())
						}
						muCheck(t, c.muOp, func() { c.call(tk) }, muWant(c.op, tk, "no task is running"))
						q.Unblock()
					})
					muNoError(t, "Post", err)
					muNoError(t, "Wait", tk.Wait(&q))
					c.verify(t, tk)
				}
			})
			runAll(t, rt)
		})
	})
	t.Run("before Run", func(t *testing.T) {
		eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
			cases := muPrepare(t, rt, nil)
			a := rt.Go("A", func(tk *lwtask.Task) {
				for _, c := range cases {
					c.verify(t, tk)
				}
			})
			for _, c := range cases {
				muCheck(t, c.muOp, func() { c.call(a) }, muWant(c.op, a, "no task is running"))
			}
			runAll(t, rt)
		})
	})
	t.Run("after Run", func(t *testing.T) {
		eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
			cases := muPrepare(t, rt, nil)
			a := rt.Go("A", func(tk *lwtask.Task) { tk.Yield() })
			runAll(t, rt)
			for _, c := range cases {
				muCheck(t, c.muOp, func() { c.call(a) }, muWant(c.op, a, "no task is running"))
			}
			rt.Go("C", func(tk *lwtask.Task) {
				for _, c := range cases {
					c.verify(t, tk)
				}
			})
			runAll(t, rt)
		})
	})
}

// TestMisuseUnrecovered lets the misuse panic go: Run reports it as a
// *PanicError of the task whose code made the call (or "(scheduler)" for a
// posted function), whose Value is the *core.MisuseError. The misused
// task is ended with the rest, and nothing is left parked or open. With a
// panic handler, the culprit alone ends and the others go on.
func TestMisuseUnrecovered(t *testing.T) {
	type misuse struct {
		name    string
		culprit string // the PanicError's task name
		want    string // the message, with B the misused task and A the caller
		start   func(rt *lwtask.Runtime, rd *lwtask.File, b *lwtask.Task)
	}
	misuses := []misuse{
		{"Read", "A", "lwtask: Read called with B#1, but A#2 is running", func(rt *lwtask.Runtime, rd *lwtask.File, b *lwtask.Task) {
			rt.Go("A", func(tk *lwtask.Task) { rd.Read(b, make([]byte, 1)) })
		}},
		{"Yield", "A", "lwtask: Yield called with B#1, but A#2 is running", func(rt *lwtask.Runtime, rd *lwtask.File, b *lwtask.Task) {
			rt.Go("A", func(tk *lwtask.Task) { b.Yield() })
		}},
		{"TryRead in a raw step", "A", "lwtask: TryRead called with B#1, but A#2 is running", func(rt *lwtask.Runtime, rd *lwtask.File, b *lwtask.Task) {
			rt.GoStep("A", func(tk *lwtask.Task) lwtask.Status {
				rd.TryRead(b, make([]byte, 1))
				return lwtask.Finish
			})
		}},
		{"Yield in a raw step", "A", "lwtask: Yield called with B#1, but A#2 is running", func(rt *lwtask.Runtime, rd *lwtask.File, b *lwtask.Task) {
			rt.GoStep("A", func(tk *lwtask.Task) lwtask.Status {
				b.Yield()
				return lwtask.Finish
			})
		}},
		{"posted", "(scheduler)", "lwtask: Read called with B#1, but no task is running", func(rt *lwtask.Runtime, rd *lwtask.File, b *lwtask.Task) {
			rt.Go("A", func(tk *lwtask.Task) {
				rt.Post(func() { rd.Read(b, make([]byte, 1)) })
				tk.Yield()
			})
		}},
		{"Yield posted", "(scheduler)", "lwtask: Yield called with B#1, but no task is running", func(rt *lwtask.Runtime, rd *lwtask.File, b *lwtask.Task) {
			rt.Go("A", func(tk *lwtask.Task) {
				rt.Post(func() { b.Yield() })
				tk.Yield()
			})
		}},
	}
	for _, m := range misuses {
		t.Run(m.name, func(t *testing.T) {
			eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
				rd, wr := newPipe(t, rt)
				muWrite(t, wr.Fd(), "data")
				deferred := 0
				b := rt.Go("B", func(tk *lwtask.Task) {
					defer func() { deferred++ }()
					rd.Read(tk, make([]byte, 64)) // takes the data
					rd.Read(tk, make([]byte, 1))  // parks
				})
				m.start(rt, rd, b)
				err := runBounded(rt)
				var pe *lwtask.PanicError
				var me *core.MisuseError
				if !errors.As(err, &pe) || pe.Name != m.culprit || !errors.As(err, &me) || me.Error() != m.want {
					t.Fatalf("Run: %v\nwant a panic of %s with %q", err, m.culprit, m.want)
				}
				if !b.Done() || deferred != 1 || rt.Len() != 0 || rt.FdQueues().Parked() != 0 {
					t.Errorf("after Run: B done %v, its deferred calls ran %d times; %d tasks, %d parked", b.Done(), deferred, rt.Len(), rt.FdQueues().Parked())
				}
			})
		})
	}
	t.Run("panic handler", func(t *testing.T) {
		eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
			rd, wr := newPipe(t, rt)
			var panics []string
			rt.SetPanicHandler(func(p *lwtask.PanicError) { panics = append(panics, fmt.Sprintf("%s: %v", p.Name, p.Value)) })
			var got string
			b := rt.Go("B", func(tk *lwtask.Task) {
				buf := make([]byte, 8)
				n, err := rd.Read(tk, buf)
				muNoError(t, "B's read", err)
				got = string(buf[:n])
			})
			rt.Go("A", func(tk *lwtask.Task) {
				rd.Read(b, make([]byte, 1))
				t.Error("the misuse returned")
			})
			rt.Go("writer", func(tk *lwtask.Task) {
				tk.Yield()
				wr.Write(tk, []byte("data"))
			})
			runAll(t, rt)
			want := "A: lwtask: Read called with B#1, but A#2 is running"
			if len(panics) != 1 || panics[0] != want || got != "data" {
				t.Errorf("panics %q, want [%q]; B read %q", panics, want, got)
			}
		})
	})
}

// TestMisuseGeneratorWaitInRawStep calls generator-style waits from a raw
// step, which must use the Block forms instead: each panics, saying so,
// and the step that recovers leaves nothing behind in the queue it would
// have waited in, so that a later Unblock wakes nobody by mistake.
func TestMisuseGeneratorWaitInRawStep(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		rd, wr := newPipe(t, rt)
		q := lwtask.Queue{Label: "q"}
		var msgs []string
		steps := 0
		a := rt.GoStep("A", func(tk *lwtask.Task) lwtask.Status {
			if steps++; steps > 1 {
				return lwtask.Finish
			}
			for _, f := range []func(){
				func() { tk.Wait(&q) },
				func() { tk.WaitUntil(&q, time.Now().Add(time.Hour)) },
				func() { tk.Sleep(time.Hour) },
				func() { rd.Read(tk, make([]byte, 1)) },
			} {
				_, msg := muRecover(f)
				msgs = append(msgs, msg)
			}
			if q.Len() != 0 || rt.FdQueues().Parked() != 0 {
				t.Errorf("the refused waits left %d in q and %d parked", q.Len(), rt.FdQueues().Parked())
			}
			return lwtask.Yield
		})
		rt.Go("B", func(tk *lwtask.Task) {
			if w := q.Unblock(); w != nil {
				t.Errorf("Unblock woke %v, which never waited", w)
			}
			wr.Write(tk, []byte("x"))
		})
		runAll(t, rt)
		if len(msgs) != 4 {
			t.Fatalf("%d messages", len(msgs))
		}
		for i, msg := range msgs {
			if !strings.Contains(msg, "called with A#1, but it is a raw step task") {
				t.Errorf("refused wait %d: %q", i, msg)
			}
		}
		if steps != 2 || !a.Done() {
			t.Errorf("A took %d steps, done %v", steps, a.Done())
		}
	})
}

// TestMisuseRequestByHolder has the running task call Request with
// another task that holds the fork: a misuse like any other, which must
// panic rather than report ErrAlreadyHeld on the other task's behalf.
func TestMisuseRequestByHolder(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		u := utensil.New("fork")
		hq := lwtask.Queue{Label: "hold"}
		b := rt.Go("B", func(tk *lwtask.Task) {
			muNoError(t, "Acquire", u.Acquire(tk))
			tk.Wait(&hq)
			u.Release(tk)
		})
		rt.Go("A", func(tk *lwtask.Task) {
			if !tasktest.UntilBlocked(t, tk, b) {
				return
			}
			o := muOp{name: "utensil.Request by the holder", op: "Request"}
			muCheck(t, o, func() { u.Request(b) }, muWant("Request", b, tk.String()+" is running"))
			hq.Unblock()
		})
		runAll(t, rt)
	})
}

// TestMisuseFdQueuesOtherRuntime has the running task of one Runtime wait
// in another Runtime's descriptor queues. The queues would park it where
// its own Runtime never looks, so the wait must be refused, saying that
// the task belongs to another Runtime.
func TestMisuseFdQueuesOtherRuntime(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		other, err := lwtask.New(lwtask.WithPoller(rt.Poller()))
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		rd, wr := newPipe(t, rt)
		muWrite(t, wr.Fd(), "data")
		ops := map[string]func(tk *lwtask.Task){
			"WaitReadable":    func(tk *lwtask.Task) { rt.FdQueues().WaitReadable(tk, rd.Fd(), time.Time{}) },
			"WaitWritable":    func(tk *lwtask.Task) { rt.FdQueues().WaitWritable(tk, wr.Fd(), time.Time{}) },
			"BlockForReading": func(tk *lwtask.Task) { rt.FdQueues().BlockForReading(tk, rd.Fd(), time.Time{}) },
			"BlockForWriting": func(tk *lwtask.Task) { rt.FdQueues().BlockForWriting(tk, wr.Fd(), time.Time{}) },
		}
		for op, call := range ops {
			other.Go("T", func(tk *lwtask.Task) {
				o := muOp{name: "FdQueues." + op, op: op}
				muCheck(t, o, func() { call(tk) }, muWant(op, tk, "it belongs to another Runtime"))
			})
			if err := runBounded(other); err != nil {
				t.Errorf("%s: the other Runtime's Run: %v", op, err)
			}
		}
		if n := rt.FdQueues().Parked(); n != 0 {
			t.Errorf("%d task(s) of the other Runtime left parked in this one's queues", n)
		}
	})
}
