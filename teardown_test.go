package lwtask_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/lwtask/lwtask"
	"github.com/lwtask/lwtask/internal/fdtest"
	"github.com/lwtask/lwtask/internal/tasktest"
	"github.com/lwtask/lwtask/task"
	"github.com/lwtask/lwtask/utensil"
)

// Teardown never parks the wrong task. A task that is being ended (killed,
// or ended as its runtime stops) runs its deferred calls with the
// scheduler's current task set to it; every wait in them fails at once with
// ErrKilled, and none of them parks the dying task, nor, worse, the task
// that killed it. These tests end tasks in every kind of wait, on every
// poller backend, and check what is left behind: queues, descriptors,
// goroutines, and the killer's own I/O.

// TestTeardownKilledWhileWriting is the bug this file started from: task K
// kills task V, and V's deferred Write meets a full pipe. K must not end up
// parked on V's pipe ("fd N write"), and K's next read of its own, healthy
// pipe must not fail with a stale error. V's deferred Write fails at once
// with ErrKilled instead. V is killed in every state it can be in.
func TestTeardownKilledWhileWriting(t *testing.T) {
	for _, state := range []string{"blocked", "ready", "sleeping", "writing", "idle"} {
		t.Run(state, func(t *testing.T) {
			eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
				_, vw := newPipe(t, rt) // V's pipe: full, and nobody reads it
				fillUp(t, vw)
				kr, kw := newPipe(t, rt) // K's own pipe
				q := lwtask.Queue{Label: "V's queue"}
				deferred := 0
				var writeErr error
				var deferCurrent *lwtask.Task
				v := rt.Go("V", func(tk *lwtask.Task) {
					defer func() {
						deferred++
						deferCurrent = rt.Current()
						_, writeErr = vw.Write(tk, []byte("goodbye"))
					}()
					switch state {
					case "blocked":
						tk.Wait(&q)
					case "sleeping":
						tk.Sleep(time.Hour)
					case "writing":
						vw.Write(tk, []byte("more"))
					default:
						for {
							tk.Yield()
						}
					}
					t.Errorf("V's %s returned", state)
				})
				feed := lwtask.Queue{Label: "feed"}
				rt.Go("F", func(tk *lwtask.Task) {
					// One byte for K at once, another once K asks for it.
					if _, err := kw.Write(tk, []byte("1")); err != nil {
						t.Error(err)
					}
					tk.Wait(&feed)
					if _, err := kw.Write(tk, []byte("2")); err != nil {
						t.Error(err)
					}
				})
				rt.Go("K", func(tk *lwtask.Task) {
					tk.Yield() // V and F take their first steps
					want := task.Blocked
					switch state {
					case "ready":
						want = task.Ready
					case "idle":
						rt.Unschedule(v)
						want = task.Idle
					}
					if v.State() != want {
						t.Errorf("V is %v before the kill, want %v", v.State(), want)
						return
					}
					rt.Kill(v)
					if !v.Done() || deferred != 1 || deferCurrent != v {
						t.Errorf("after Kill: V done %v, deferred calls ran %d times, with %v running", v.Done(), deferred, deferCurrent)
					}
					if !errors.Is(writeErr, lwtask.ErrKilled) {
						t.Errorf("V's deferred Write to a full pipe: %v, want ErrKilled", writeErr)
					}
					if rt.Current() != tk {
						t.Errorf("after Kill the running task is %v, want %v", rt.Current(), tk)
					}
					if n := rt.FdQueues().Parked(); n != 0 {
						t.Errorf("after Kill %d task(s) parked on descriptors, want none: %v", n, rt.Tasks())
					}
					if q.Len() != 0 || feed.Len() != 1 {
						t.Errorf("after Kill: %d in V's queue, %d in F's", q.Len(), feed.Len())
					}
					tk.Yield() // a K parked by mistake would never come back
					buf := make([]byte, 1)
					if n, err := kr.Read(tk, buf); n != 1 || err != nil || buf[0] != '1' {
						t.Errorf("K's read of its own pipe: %q, %v", buf[:n], err)
					}
					feed.Unblock()
					// This read has to wait for F: a real wait of K's own.
					if n, err := kr.Read(tk, buf); n != 1 || err != nil || buf[0] != '2' {
						t.Errorf("K's second read of its own pipe: %q, %v", buf[:n], err)
					}
				})
				runAll(t, rt)
				if rt.Len() != 0 || rt.FdQueues().Parked() != 0 {
					t.Errorf("after Run: %d tasks, %d parked", rt.Len(), rt.FdQueues().Parked())
				}
			})
		})
	}
}

// TestTeardownStopWhileFlushing stops the runtime while many connection
// handlers are parked, reading or flushing, on sockets whose peers never
// read, and each handler's deferred calls say goodbye with WriteString and
// a Flush that would have to wait. Run returns nil, every deferred Flush
// fails with ErrKilled, every handler closes its connection, and no
// goroutine or descriptor is left behind.
func TestTeardownStopWhileFlushing(t *testing.T) {
	const handlers = 24
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
		l := listen(t, rt, "unix", filepath.Join(t.TempDir(), "sock"))
		var flushErrs []error
		var hs []*lwtask.Task
		ended, closed := 0, 0
		handle := func(tk *lwtask.Task, i int, c *lwtask.Conn) {
			defer func() {
				c.WriteString(tk, "goodbye\n")
				flushErrs = append(flushErrs, c.Flush(tk))
				if err := c.Close(); err == nil || errors.Is(err, lwtask.ErrUnsent) {
					closed++
				} else {
					t.Errorf("handler %d: Close: %v", i, err)
				}
				ended++
			}()
			if i%2 == 0 {
				fdtest.Fill(t, c.Fd())
				c.ReadLine(tk) // the peer never writes
			} else {
				chunk := strings.Repeat("spam glorious spam\n", 1000)
				for {
					c.WriteString(tk, chunk)
					if err := c.Flush(tk); err != nil { // parks once the peer's buffer is full
						t.Errorf("handler %d: %v", i, err)
						return
					}
				}
			}
			t.Errorf("handler %d's wait returned", i)
		}
		rt.Go("listener", func(tk *lwtask.Task) {
			for i := range handlers {
				c, err := l.Accept(tk)
				if err != nil {
					t.Error(err)
					return
				}
				hs = append(hs, rt.Go(fmt.Sprint("handler ", i), func(tk *lwtask.Task) { handle(tk, i, c) }))
			}
		})
		var clients []*lwtask.Conn
		parked := make(chan struct{})
		rt.Go("clients", func(tk *lwtask.Task) {
			for range handlers {
				c, err := rt.Dial(tk, "unix", l.Addr().String())
				if err != nil {
					t.Error(err)
					return
				}
				clients = append(clients, c)
			}
			for len(hs) < handlers {
				tk.Yield()
			}
			if tasktest.UntilBlocked(t, tk, hs...) {
				close(parked)
			}
			tk.Sleep(time.Hour)
		})
		release := tasktest.StopWhen(rt, parked)
		err := runBounded(rt)
		release()
		for _, c := range clients {
			c.Close()
		}
		if err != nil {
			t.Fatalf("Run after Stop: %v", err)
		}
		if ended != handlers || closed != handlers || len(flushErrs) != handlers {
			t.Fatalf("%d handlers ended, %d closed, %d flushed; want %d", ended, closed, len(flushErrs), handlers)
		}
		for i, err := range flushErrs {
			if !errors.Is(err, lwtask.ErrKilled) {
				t.Errorf("deferred Flush %d: %v, want ErrKilled", i, err)
			}
		}
		if rt.Len() != 0 || rt.FdQueues().Parked() != 0 {
			t.Errorf("after Run: %d tasks, %d parked", rt.Len(), rt.FdQueues().Parked())
		}
	})
}

// A tdWaitCase is one kind of wait, set up to wait until released.
type tdWaitCase struct {
	// wait is the wait, made by the victim and again in its deferred
	// calls; it must not end before release.
	wait func(tk *lwtask.Task) error
	// release ends one such wait, the twin's, which waits behind the
	// victim; nil if no second task can wait alongside.
	release func(t *testing.T, tk *lwtask.Task)
	// verify, if set, checks what the twin did, once its wait has ended.
	verify func(t *testing.T, tk *lwtask.Task)
	// after, if set, checks that nothing is left waiting once Run has
	// returned, and lets go of what the case holds.
	after func(t *testing.T)
}

// tdWaitKinds are the kinds of wait a task can be ended in.
var tdWaitKinds = []struct {
	name    string
	prepare func(t *testing.T, rt *lwtask.Runtime) tdWaitCase
}{
	{"Wait", func(t *testing.T, rt *lwtask.Runtime) tdWaitCase {
		q := &lwtask.Queue{Label: "q"}
		return tdWaitCase{
			wait:    func(tk *lwtask.Task) error { return tk.Wait(q) },
			release: func(t *testing.T, tk *lwtask.Task) { tdUnblockOne(t, q) },
			after:   func(t *testing.T) { tdQueueEmpty(t, q) },
		}
	}},
	{"WaitUntil", func(t *testing.T, rt *lwtask.Runtime) tdWaitCase {
		q := &lwtask.Queue{Label: "q"}
		return tdWaitCase{
			wait:    func(tk *lwtask.Task) error { return tk.WaitUntil(q, time.Now().Add(time.Hour)) },
			release: func(t *testing.T, tk *lwtask.Task) { tdUnblockOne(t, q) },
			after:   func(t *testing.T) { tdQueueEmpty(t, q) },
		}
	}},
	{"Sleep", func(t *testing.T, rt *lwtask.Runtime) tdWaitCase {
		return tdWaitCase{wait: func(tk *lwtask.Task) error { return tk.Sleep(time.Hour) }}
	}},
	{"File.Read", func(t *testing.T, rt *lwtask.Runtime) tdWaitCase {
		rd, wr := newPipe(t, rt)
		return tdWaitCase{
			wait: func(tk *lwtask.Task) error {
				_, err := rd.Read(tk, make([]byte, 1))
				return err
			},
			release: func(t *testing.T, tk *lwtask.Task) {
				if _, err := wr.Write(tk, []byte("x")); err != nil {
					t.Error(err)
				}
			},
		}
	}},
	{"File.Write", func(t *testing.T, rt *lwtask.Runtime) tdWaitCase {
		rd, wr := newPipe(t, rt)
		fillUp(t, wr)
		return tdWaitCase{
			wait: func(tk *lwtask.Task) error {
				_, err := wr.Write(tk, []byte(tk.Name()))
				return err
			},
			release: func(t *testing.T, tk *lwtask.Task) { fdtest.Drain(t, rd.Fd()) },
			verify: func(t *testing.T, tk *lwtask.Task) {
				if got := fdtest.Drain(t, rd.Fd()); !bytes.HasSuffix(got, []byte("twin")) {
					t.Errorf("the twin's write did not arrive: ...%q", got[max(0, len(got)-20):])
				}
			},
		}
	}},
	{"Conn.ReadLine", func(t *testing.T, rt *lwtask.Runtime) tdWaitCase {
		a, b := newSocketPair(t, rt)
		c := lwtask.NewConn(a)
		return tdWaitCase{
			wait: func(tk *lwtask.Task) error {
				line, err := c.ReadLine(tk)
				if err == nil && string(line) != "line" {
					err = fmt.Errorf("ReadLine: %q", line)
				}
				return err
			},
			release: func(t *testing.T, tk *lwtask.Task) {
				if _, err := b.Write(tk, []byte("line\n")); err != nil {
					t.Error(err)
				}
			},
		}
	}},
	{"Conn.Flush", func(t *testing.T, rt *lwtask.Runtime) tdWaitCase {
		a, b := newSocketPair(t, rt)
		fillUp(t, a)
		c := lwtask.NewConn(a)
		return tdWaitCase{
			wait: func(tk *lwtask.Task) error {
				c.WriteString(tk, tk.Name()+"\n")
				return c.Flush(tk)
			},
			release: func(t *testing.T, tk *lwtask.Task) { fdtest.Drain(t, b.Fd()) },
			verify: func(t *testing.T, tk *lwtask.Task) {
				// The twin's Flush returned nil: its line was written.
				if got := fdtest.Drain(t, b.Fd()); !bytes.Contains(got, []byte("twin\n")) {
					t.Errorf("the twin's Flush returned nil, but its line never arrived: ...%q", got[max(0, len(got)-40):])
				}
			},
		}
	}},
	{"Listener.Accept", func(t *testing.T, rt *lwtask.Runtime) tdWaitCase {
		l := listen(t, rt, "tcp", "127.0.0.1:0")
		return tdWaitCase{
			wait: func(tk *lwtask.Task) error {
				c, err := l.Accept(tk)
				if err == nil {
					c.Close()
				}
				return err
			},
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
	{"Runtime.Dial", func(t *testing.T, rt *lwtask.Runtime) tdWaitCase {
		addr := tdFullBacklog(t)
		return tdWaitCase{
			wait: func(tk *lwtask.Task) error {
				c, err := rt.Dial(tk, "tcp", addr)
				if err == nil {
					c.Close()
					err = errors.New("Dial to a full backlog connected")
				}
				return err
			},
		}
	}},
	{"utensil.Acquire", func(t *testing.T, rt *lwtask.Runtime) tdWaitCase {
		u := utensil.New("fork")
		hold := &lwtask.Queue{Label: "hold"}
		rt.Go("holder", func(tk *lwtask.Task) {
			if err := u.Acquire(tk); err != nil {
				t.Error(err)
				return
			}
			tk.Wait(hold)
			if err := u.Release(tk); err != nil {
				t.Error(err)
			}
		})
		return tdWaitCase{
			wait: func(tk *lwtask.Task) error {
				if err := u.Acquire(tk); err != nil {
					return err
				}
				return u.Release(tk)
			},
			release: func(t *testing.T, tk *lwtask.Task) { tdUnblockOne(t, hold) },
			after: func(t *testing.T) {
				if u.Holder() != nil || u.Waiting() != 0 {
					t.Errorf("after Run the fork is held by %v, with %d waiting", u.Holder(), u.Waiting())
				}
			},
		}
	}},
	{"Process.Wait", func(t *testing.T, rt *lwtask.Runtime) tdWaitCase {
		p := start(t, rt, child(t, "cat")) // exits at the end of its input
		return tdWaitCase{
			wait:    func(tk *lwtask.Task) error { return p.Wait(tk) },
			release: func(t *testing.T, tk *lwtask.Task) { p.Stdin.Close() },
			after: func(t *testing.T) {
				// After Stop the child still runs, and the goroutine that
				// reaps it holds its pidfd: end it before the descriptors
				// are counted.
				p.Stdin.Close()
				tdReaped(t, p)
			},
		}
	}},
}

// tdReaped waits, within the hang limit, until p's child has exited and
// the runtime's goroutine that reaps it has returned from Cmd.Wait, which
// closes the child's pidfd (Signal reports the process done a little
// before that).
func tdReaped(t *testing.T, p *lwtask.Process) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for limit := time.Now().Add(hangLimit); time.Now().Before(limit); time.Sleep(time.Millisecond) {
		if !bytes.Contains(buf[:runtime.Stack(buf, true)], []byte("lwtask.(*Process).reap")) {
			return
		}
	}
	t.Errorf("child %d not reaped", p.Cmd.Process.Pid)
}

func tdUnblockOne(t *testing.T, q *lwtask.Queue) {
	t.Helper()
	if q.Unblock() == nil {
		t.Errorf("nobody left waiting in %s", q.Label)
	}
}

func tdQueueEmpty(t *testing.T, q *lwtask.Queue) {
	t.Helper()
	if q.Len() != 0 {
		t.Errorf("%d task(s) left in %s", q.Len(), q.Label)
	}
}

// tdFullBacklog returns the address of a TCP listener whose accept queue is
// full, so that a connect to it pends: Linux drops the SYN. It skips the
// test where it cannot make sure of that (it reads the queue's length from
// /proc/net/tcp).
func tdFullBacklog(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skipf("cannot see listen queues to make a connect pend: %v", err)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.CloseOnExec(fd)
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	port := sa.(*unix.SockaddrInet4).Port
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	// A backlog of 0 holds one connection; a few more make sure.
	for range 3 {
		if tdQueued(t, port) > 0 {
			return addr
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		t.Cleanup(func() { c.Close() })
		for i := 0; i < 1000 && tdQueued(t, port) == 0; i++ {
			time.Sleep(time.Millisecond) // the handshake's last ACK is on its way
		}
	}
	if tdQueued(t, port) > 0 {
		return addr
	}
	t.Skip("could not fill a listen queue to make a connect pend")
	return ""
}

// queued returns how many connections wait in the accept queue of the
// TCP listener on 127.0.0.1:port, from /proc/net/tcp, or -1.
func tdQueued(t *testing.T, port int) int {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return -1
	}
	defer f.Close()
	local := fmt.Sprintf("0100007F:%04X", port)
	for sc := bufio.NewScanner(f); sc.Scan(); {
		fields := strings.Fields(sc.Text())
		// sl local_address rem_address st tx_queue:rx_queue ...; a
		// listener's rx_queue is its accept queue.
		if len(fields) > 4 && fields[1] == local && fields[3] == "0A" {
			_, rx, _ := strings.Cut(fields[4], ":")
			n, err := strconv.ParseInt(rx, 16, 64)
			if err != nil {
				return -1
			}
			return int(n)
		}
	}
	return -1
}

// victim is a task ended while it waits. Its deferred calls wait again,
// as a handler's goodbye would, which must fail at once with ErrKilled.
type tdVictim struct {
	task     *lwtask.Task
	deferred int          // how many times its deferred calls ran
	returned bool         // its first wait returned, which it must not
	current  *lwtask.Task // the running task its deferred calls saw
	again    error        // what the wait in its deferred calls returned
}

func tdStartVictim(t *testing.T, rt *lwtask.Runtime, wait func(tk *lwtask.Task) error) *tdVictim {
	v := &tdVictim{}
	v.task = rt.Go("victim", func(tk *lwtask.Task) {
		defer func() {
			v.deferred++
			v.current = rt.Current()
			if !v.returned {
				v.again = wait(tk)
			}
		}()
		err := wait(tk)
		v.returned = true
		t.Errorf("the victim's wait returned: %v", err)
	})
	return v
}

func (v *tdVictim) check(t *testing.T) {
	t.Helper()
	if !v.task.Done() || v.deferred != 1 || v.returned || v.current != v.task {
		t.Errorf("victim: done %v, deferred calls ran %d times with %v running, wait returned %v",
			v.task.Done(), v.deferred, v.current, v.returned)
	}
	if !errors.Is(v.again, lwtask.ErrKilled) {
		t.Errorf("the victim's wait in its deferred calls: %v, want ErrKilled", v.again)
	}
}

// twin waits behind the victim, in the same kind of wait on the same
// thing, when the case allows it: the kill must neither wake it nor leave
// it stranded.
type tdTwin struct {
	task     *lwtask.Task
	done     bool
	err      error
	finished lwtask.Queue
}

func tdStartTwin(t *testing.T, rt *lwtask.Runtime, wc tdWaitCase, v *tdVictim) *tdTwin {
	if wc.release == nil {
		return &tdTwin{}
	}
	w := &tdTwin{finished: lwtask.Queue{Label: "twin finished"}}
	w.task = rt.Go("twin", func(tk *lwtask.Task) {
		if !tasktest.UntilBlocked(t, tk, v.task) { // behind the victim
			return
		}
		w.err = wc.wait(tk)
		w.done = true
		w.finished.Unblock()
	})
	return w
}

// TestTeardownEachWait ends a task in each kind of wait, by Kill and by
// Stop, on every backend. The wait unwinds (it never returns), the task's
// deferred calls run once, with the task as the running one, and a wait
// in them fails at once with ErrKilled; a second task waiting behind it
// is neither woken nor stranded, and gets what it waits for later; the
// killer's own waits work on; Run returns nil; and no queue, timer,
// descriptor or goroutine is left behind.
func TestTeardownEachWait(t *testing.T) {
	for _, kind := range tdWaitKinds {
		t.Run(kind.name, func(t *testing.T) {
			t.Run("Kill", func(t *testing.T) {
				eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) { tdKillDuringWait(t, rt, kind.prepare(t, rt)) })
			})
			t.Run("Stop", func(t *testing.T) {
				eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) { tdStopDuringWait(t, rt, kind.prepare(t, rt)) })
			})
		})
	}
}

func tdKillDuringWait(t *testing.T, rt *lwtask.Runtime, wc tdWaitCase) {
	v := tdStartVictim(t, rt, wc.wait)
	w := tdStartTwin(t, rt, wc, v)
	bq := lwtask.Queue{Label: "bystander"}
	var bErr error
	bDone := false
	b := rt.Go("bystander", func(tk *lwtask.Task) { bErr = tk.Wait(&bq); bDone = true })
	kr, kw := newPipe(t, rt) // the killer's own pipe
	feed := lwtask.Queue{Label: "feed"}
	f := rt.Go("feeder", func(tk *lwtask.Task) {
		tk.Wait(&feed)
		kw.Write(tk, []byte("k"))
	})
	rt.Go("killer", func(tk *lwtask.Task) {
		if !tasktest.UntilBlocked(t, tk, v.task, w.task, b, f) {
			return
		}
		waiting := v.task.Info().WaitingFor
		parked := rt.FdQueues().Parked()
		rt.Kill(v.task)
		v.check(t)
		if rt.Current() != tk {
			t.Errorf("after Kill the running task is %v, want %v", rt.Current(), tk)
		}
		if strings.HasPrefix(waiting, "fd ") {
			parked-- // the victim's place
		}
		if n := rt.FdQueues().Parked(); n != parked {
			t.Errorf("the victim waited for %s; after Kill %d task(s) are parked on descriptors, want %d: %v", waiting, n, parked, rt.Tasks())
		}
		if w.done || b.State() != task.Blocked || f.State() != task.Blocked {
			t.Errorf("after Kill: the twin's wait ended (%v, %v), bystander %v, feeder %v", w.done, w.err, b.State(), f.State())
		}
		tk.Yield() // a killer parked by mistake would never come back
		feed.Unblock()
		buf := make([]byte, 1)
		if n, err := kr.Read(tk, buf); n != 1 || err != nil || buf[0] != 'k' {
			t.Errorf("the killer's read of its own pipe: %q, %v", buf[:n], err)
		}
		if w.task != nil {
			wc.release(t, tk)
			if !w.done {
				tk.Wait(&w.finished)
			}
			if w.err != nil {
				t.Errorf("the twin's wait: %v", w.err)
			}
			if wc.verify != nil {
				wc.verify(t, tk)
			}
		}
		bq.Unblock()
	})
	runAll(t, rt)
	if !bDone || bErr != nil {
		t.Errorf("bystander: done %v, %v", bDone, bErr)
	}
	if wc.after != nil {
		wc.after(t)
	}
	if rt.Len() != 0 || rt.FdQueues().Parked() != 0 {
		t.Errorf("after Run: %d tasks, %d parked", rt.Len(), rt.FdQueues().Parked())
	}
}

func tdStopDuringWait(t *testing.T, rt *lwtask.Runtime, wc tdWaitCase) {
	v := tdStartVictim(t, rt, wc.wait)
	w := tdStartTwin(t, rt, wc, v)
	bq := lwtask.Queue{Label: "bystander"}
	b := rt.Go("bystander", func(tk *lwtask.Task) { tk.Wait(&bq) })
	parked := make(chan struct{})
	rt.Go("signal", func(tk *lwtask.Task) {
		if tasktest.UntilBlocked(t, tk, v.task, w.task, b) {
			close(parked)
		}
		tk.Sleep(time.Hour)
	})
	release := tasktest.StopWhen(rt, parked)
	err := runBounded(rt)
	release()
	if err != nil {
		t.Fatalf("Run after Stop: %v", err)
	}
	v.check(t)
	if w.done {
		t.Errorf("the twin's wait ended: %v", w.err)
	}
	if wc.after != nil {
		wc.after(t)
	}
	if rt.Len() != 0 || rt.FdQueues().Parked() != 0 || bq.Len() != 0 {
		t.Errorf("after Run: %d tasks, %d parked, %d in the bystander's queue", rt.Len(), rt.FdQueues().Parked(), bq.Len())
	}
}

// tdRawWaitKinds are the waits of raw step tasks: each parks the running
// task and reports ErrAgain (or nil, for Block) for the step to return
// Yield.
var tdRawWaitKinds = []struct {
	name    string
	prepare func(t *testing.T, rt *lwtask.Runtime) (block func(tk *lwtask.Task) error, after func(t *testing.T))
}{
	{"Block", func(t *testing.T, rt *lwtask.Runtime) (func(*lwtask.Task) error, func(*testing.T)) {
		q := &lwtask.Queue{Label: "q"}
		return func(tk *lwtask.Task) error { return tk.Block(q) }, func(t *testing.T) { tdQueueEmpty(t, q) }
	}},
	{"BlockUntil", func(t *testing.T, rt *lwtask.Runtime) (func(*lwtask.Task) error, func(*testing.T)) {
		q := &lwtask.Queue{Label: "q"}
		return func(tk *lwtask.Task) error { return tk.BlockUntil(q, time.Now().Add(time.Hour)) }, func(t *testing.T) { tdQueueEmpty(t, q) }
	}},
	{"sleep", func(t *testing.T, rt *lwtask.Runtime) (func(*lwtask.Task) error, func(*testing.T)) {
		return func(tk *lwtask.Task) error { return tk.BlockUntil(nil, time.Now().Add(time.Hour)) }, nil
	}},
	{"TryRead", func(t *testing.T, rt *lwtask.Runtime) (func(*lwtask.Task) error, func(*testing.T)) {
		rd, _ := newPipe(t, rt)
		return func(tk *lwtask.Task) error {
			_, err := rd.TryRead(tk, make([]byte, 1))
			return err
		}, nil
	}},
	{"TryWrite", func(t *testing.T, rt *lwtask.Runtime) (func(*lwtask.Task) error, func(*testing.T)) {
		_, wr := newPipe(t, rt)
		fillUp(t, wr)
		return func(tk *lwtask.Task) error {
			_, err := wr.TryWrite(tk, []byte("x"))
			return err
		}, nil
	}},
	{"TryAccept", func(t *testing.T, rt *lwtask.Runtime) (func(*lwtask.Task) error, func(*testing.T)) {
		l := listen(t, rt, "tcp", "127.0.0.1:0")
		return func(tk *lwtask.Task) error {
			c, err := l.TryAccept(tk)
			if c != nil {
				c.Close()
			}
			return err
		}, nil
	}},
	{"BlockForReading", func(t *testing.T, rt *lwtask.Runtime) (func(*lwtask.Task) error, func(*testing.T)) {
		rd, _ := newPipe(t, rt)
		return func(tk *lwtask.Task) error { return rt.FdQueues().BlockForReading(tk, rd.Fd(), time.Time{}) }, nil
	}},
	{"utensil.Request", func(t *testing.T, rt *lwtask.Runtime) (func(*lwtask.Task) error, func(*testing.T)) {
		u := utensil.New("fork")
		rt.Go("holder", func(tk *lwtask.Task) {
			u.Acquire(tk)
			tk.Sleep(time.Hour)
		})
		return func(tk *lwtask.Task) error {
				granted, err := u.Request(tk)
				if granted {
					return errors.New("granted a held fork")
				}
				return err
			}, func(t *testing.T) {
				if u.Holder() != nil || u.Waiting() != 0 {
					t.Errorf("after Run the fork is held by %v, with %d waiting", u.Holder(), u.Waiting())
				}
			}
	}},
}

// TestTeardownRawStepWaits ends raw step tasks parked in each kind of
// wait, by Kill and by Stop: the step is never called again, and nothing
// is left in any queue.
func TestTeardownRawStepWaits(t *testing.T) {
	for _, kind := range tdRawWaitKinds {
		for _, mode := range []string{"Kill", "Stop"} {
			t.Run(kind.name+"/"+mode, func(t *testing.T) {
				eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
					block, after := kind.prepare(t, rt)
					steps := 0
					v := rt.GoStep("raw victim", func(tk *lwtask.Task) lwtask.Status {
						if steps++; steps > 1 {
							t.Errorf("a raw step parked in %s ran again, woken with %v", kind.name, tk.WaitErr())
							return lwtask.Finish
						}
						if err := block(tk); err != nil && !errors.Is(err, lwtask.ErrAgain) {
							t.Errorf("%s: %v", kind.name, err)
							return lwtask.Finish
						}
						return lwtask.Yield
					})
					parked := make(chan struct{})
					rt.Go("killer", func(tk *lwtask.Task) {
						if !tasktest.UntilBlocked(t, tk, v) {
							return
						}
						if mode == "Stop" {
							close(parked)
							tk.Sleep(time.Hour)
							return
						}
						rt.Kill(v)
						if !v.Done() || rt.FdQueues().Parked() != 0 || rt.Current() != tk {
							t.Errorf("after Kill: victim done %v, %d parked, %v running", v.Done(), rt.FdQueues().Parked(), rt.Current())
						}
						if err := tk.Sleep(time.Millisecond); err != nil { // a wait of the killer's own
							t.Errorf("the killer's Sleep: %v", err)
						}
						if kind.name == "utensil.Request" {
							rt.Stop() // the holder sleeps for an hour
						}
					})
					release := tasktest.StopWhen(rt, parked)
					err := runBounded(rt)
					release()
					if err != nil {
						t.Fatal(err)
					}
					if steps != 1 || !v.Done() || rt.Len() != 0 || rt.FdQueues().Parked() != 0 {
						t.Errorf("after Run: %d steps, victim done %v, %d tasks, %d parked", steps, v.Done(), rt.Len(), rt.FdQueues().Parked())
					}
					if after != nil {
						after(t)
					}
				})
			})
		}
	}
}

// TestTeardownKillSelfGenerator has a generator task kill itself while it
// holds a fork another task waits for. Kill does not return; its deferred
// calls run once, as the running task, where Yield returns at once and
// every wait fails with ErrKilled; the fork passes on; the others go on.
func TestTeardownKillSelfGenerator(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		rd, _ := newPipe(t, rt) // empty
		_, wr := newPipe(t, rt) // full
		fillUp(t, wr)
		u := utensil.New("fork")
		q := lwtask.Queue{Label: "q"}
		deferred := 0
		var errs []error
		var current *lwtask.Task
		self := rt.Go("suicide", func(tk *lwtask.Task) {
			defer func() {
				deferred++
				current = rt.Current()
				tk.Yield() // returns at once
				_, err := rd.Read(tk, make([]byte, 1))
				errs = append(errs, err)
				_, err = wr.Write(tk, []byte("x"))
				errs = append(errs, err)
				errs = append(errs, tk.Wait(&q), tk.Sleep(time.Hour))
				// The fork goes to the other task, so that taking it back
				// would have to wait.
				if err := u.Release(tk); err != nil {
					t.Error(err)
				}
				errs = append(errs, u.Acquire(tk))
			}()
			if err := u.Acquire(tk); err != nil {
				t.Error(err)
			}
			tk.Yield() // the other task queues for the fork
			rt.Kill(tk)
			t.Error("Kill of the running task returned")
		})
		var got error
		gotFork := false
		rt.Go("other", func(tk *lwtask.Task) {
			got = u.Acquire(tk)
			gotFork = u.Holder() == tk
			if self.State() != task.Done {
				t.Errorf("suicide is %v", self.State())
			}
			u.Release(tk)
		})
		runAll(t, rt)
		if deferred != 1 || current != self || len(errs) != 5 {
			t.Fatalf("deferred calls ran %d times, with %v running; %d errors", deferred, current, len(errs))
		}
		for i, err := range errs {
			if !errors.Is(err, lwtask.ErrKilled) {
				t.Errorf("wait %d in the deferred calls: %v, want ErrKilled", i, err)
			}
		}
		if got != nil || !gotFork || u.Holder() != nil || q.Len() != 0 || rt.FdQueues().Parked() != 0 {
			t.Errorf("other: %v, got the fork %v; holder %v, %d in q, %d parked", got, gotFork, u.Holder(), q.Len(), rt.FdQueues().Parked())
		}
	})
}

// TestTeardownKillSelfStep has a raw step kill itself and then try to
// block in the same step: every wait returns ErrKilled rather than park
// the task, and the step is not called again.
func TestTeardownKillSelfStep(t *testing.T) {
	for _, status := range []lwtask.Status{lwtask.Yield, lwtask.Finish} {
		t.Run(fmt.Sprint("returns ", status), func(t *testing.T) {
			eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
				rd, _ := newPipe(t, rt)
				l := listen(t, rt, "tcp", "127.0.0.1:0")
				q := lwtask.Queue{Label: "q"}
				u := utensil.New("fork")
				steps := 0
				var errs []error
				var x *lwtask.Task
				// A fork held by someone else, so that Request has to wait.
				rt.Go("holder", func(tk *lwtask.Task) {
					u.Acquire(tk)
					tk.Yield()
					tk.Yield()
					u.Release(tk)
				})
				x = rt.GoStep("suicide", func(tk *lwtask.Task) lwtask.Status {
					switch steps++; steps {
					case 1:
						return lwtask.Yield // the holder takes the fork
					case 2:
					default:
						t.Error("the step ran again after it killed itself")
						return lwtask.Finish
					}
					rt.Kill(tk)
					if rt.Current() != tk {
						t.Errorf("after killing itself the running task is %v", rt.Current())
					}
					errs = append(errs,
						tk.Block(&q),
						tk.BlockUntil(&q, time.Now().Add(time.Hour)),
						tk.BlockUntil(nil, time.Now().Add(time.Hour)),
						rt.FdQueues().BlockForReading(tk, rd.Fd(), time.Time{}))
					_, err := rd.TryRead(tk, make([]byte, 1))
					errs = append(errs, err)
					_, err = l.TryAccept(tk)
					errs = append(errs, err)
					if granted, err := u.Request(tk); granted {
						t.Error("Request granted a held fork")
					} else {
						errs = append(errs, err)
					}
					return status
				})
				runAll(t, rt)
				if steps != 2 || !x.Done() || q.Len() != 0 || rt.FdQueues().Parked() != 0 || u.Waiting() != 0 {
					t.Errorf("%d steps, done %v; %d in q, %d parked, %d waiting for the fork", steps, x.Done(), q.Len(), rt.FdQueues().Parked(), u.Waiting())
				}
				if len(errs) != 7 {
					t.Fatalf("%d errors: %v", len(errs), errs)
				}
				for i, err := range errs {
					if !errors.Is(err, lwtask.ErrKilled) {
						t.Errorf("wait %d after killing itself: %v, want ErrKilled", i, err)
					}
				}
			})
		})
	}
}

// TestTeardownKillFromDeferred kills from inside the deferred calls of a
// dying task. V's deferred calls kill W, which is parked: W's deferred
// calls run with W as the running task, and the running task goes back to
// V, then to the killer K. V's deferred calls also kill K, whose code is
// on the stack: K is ended at its next wait, which must not park it.
func TestTeardownKillFromDeferred(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		rd, _ := newPipe(t, rt)
		var trace []string
		say := func(format string, args ...any) { trace = append(trace, fmt.Sprintf(format, args...)) }
		var k, v, w *lwtask.Task
		w = rt.Go("W", func(tk *lwtask.Task) {
			defer func() {
				_, err := rd.Read(tk, make([]byte, 1))
				say("W deferred: %v running, read %v", rt.Current(), errors.Is(err, lwtask.ErrKilled))
			}()
			rd.Read(tk, make([]byte, 1))
			say("W's read returned")
		})
		v = rt.Go("V", func(tk *lwtask.Task) {
			defer func() {
				rt.Kill(w)
				say("V deferred: %v running after killing W (done %v)", rt.Current(), w.Done())
				rt.Kill(k)
				say("V deferred: %v running after killing K (done %v)", rt.Current(), k.Done())
			}()
			tk.Sleep(time.Hour)
		})
		k = rt.Go("K", func(tk *lwtask.Task) {
			defer func() {
				err := tk.Sleep(time.Hour)
				say("K deferred: %v running, sleep %v", rt.Current(), errors.Is(err, lwtask.ErrKilled))
			}()
			if !tasktest.UntilBlocked(t, tk, v, w) {
				return
			}
			rt.Kill(v)
			say("K: %v running after killing V (done %v)", rt.Current(), v.Done())
			rd.Read(tk, make([]byte, 1)) // K is doomed: it ends here, without parking
			say("K's read returned")
		})
		runAll(t, rt)
		want := []string{
			"W deferred: W#1 running, read true",
			"V deferred: V#2 running after killing W (done true)",
			"V deferred: V#2 running after killing K (done false)",
			"K: K#3 running after killing V (done true)",
			"K deferred: K#3 running, sleep true",
		}
		if strings.Join(trace, "\n") != strings.Join(want, "\n") {
			t.Errorf("trace:\n\t%s\nwant:\n\t%s", strings.Join(trace, "\n\t"), strings.Join(want, "\n\t"))
		}
		if !k.Done() || rt.Len() != 0 || rt.FdQueues().Parked() != 0 {
			t.Errorf("after Run: K done %v, %d tasks, %d parked", k.Done(), rt.Len(), rt.FdQueues().Parked())
		}
	})
}

// TestTeardownKilledFlushKeepsOutput kills a task parked in Flush with
// another task's output in the buffer it took out: the output is not lost
// while the other task's Flush reports success. It goes back to the
// Conn, ahead of what was gathered meanwhile, and the next Flush sends it,
// in order.
func TestTeardownKilledFlushKeepsOutput(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		a, b := newSocketPair(t, rt)
		fillUp(t, a)
		c := lwtask.NewConn(a)
		fq := lwtask.Queue{Label: "flusher"}
		var flusher *lwtask.Task
		rt.Go("writer", func(tk *lwtask.Task) {
			c.WriteString(tk, "one\n") // gathered, not flushed
			rt.Go("flusher", func(tk *lwtask.Task) {
				flusher = tk
				fq.Unblock()
				c.Flush(tk) // takes "one\n" out, and parks on the full socket
				t.Error("the flusher's Flush returned")
			})
			tk.Wait(&fq)
			if !tasktest.UntilBlocked(t, tk, flusher) {
				return
			}
			c.WriteString(tk, "two\n") // gathered meanwhile
			rt.Kill(flusher)
			if n := c.Unflushed(); n != len("one\ntwo\n") {
				t.Errorf("after the kill %d bytes are left to flush, want %d", n, len("one\ntwo\n"))
			}
			fdtest.Drain(t, b.Fd())
			if err := c.Flush(tk); err != nil {
				t.Error(err)
			}
			if got := string(fdtest.Drain(t, b.Fd())); got != "one\ntwo\n" {
				t.Errorf("the peer got %q, want %q", got, "one\ntwo\n")
			}
		})
		runAll(t, rt)
	})
}
