package task_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/lwtask/lwtask/internal/tasktest"
	"github.com/lwtask/lwtask/scheduler"
	"github.com/lwtask/lwtask/task"
	"github.com/lwtask/lwtask/utensil"
)

// Cancellation, after trio's cancel scopes: t.Cancel reaches whatever the
// task waits on, as an error matching context.Canceled that unwraps to the
// cause; MoveOnAfter, MoveOnAt and FailAfter are scopes with deadlines that
// nest, the outermost cancelled one deciding; t.Context carries it all to
// library code on other goroutines. The I/O waits are the root package's
// (cancel_test.go there).

// cxHang bounds a Run that should end but might not, so that a bug fails
// the test instead of hanging it. It times nothing.
const cxHang = 20 * time.Second

// cxRun runs s under the watchdog and fails the test if Run fails, hangs
// or leaves a task behind.
func cxRun(t *testing.T, s *scheduler.Scheduler) {
	t.Helper()
	if err := tasktest.RunBounded(s, cxHang); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if s.Len() != 0 {
		t.Fatalf("%d task(s) left after Run: %v", s.Len(), s.Tasks())
	}
}

// cxUntilDone yields tk until x has ended, for at most a few turns: a
// cancelled task ends at its next step, unless its cancellation failed to
// reach it, which this reports rather than hanging on.
func cxUntilDone(t testing.TB, tk *task.Task, x *task.Task) bool {
	t.Helper()
	for range 10 {
		if x.Done() {
			return true
		}
		tk.Yield()
	}
	t.Errorf("%v has not ended 10 turns after its cancellation: %v", x, x.Info())
	return false
}

// cxWantCanceled reports unless err is a cancellation by cause: it must
// match context.Canceled, and cause (context.Canceled for a nil cause),
// under errors.Is. It uses t.Errorf, so tasks may call it.
func cxWantCanceled(t testing.TB, what string, err, cause error) {
	t.Helper()
	if cause == nil {
		cause = context.Canceled
	}
	if !errors.Is(err, context.Canceled) || !errors.Is(err, cause) {
		t.Errorf("%s: %v, want a cancellation (context.Canceled) caused by %q", what, err, cause)
	}
}

// cxWait is one kind of wait a task can be cancelled in.
type cxWait struct {
	name string
	// prepare sets the wait up on s. It returns the wait, which must not
	// end by itself, and after, which the canceller runs once the
	// cancelled wait has returned: it checks that the wait left nothing
	// behind (no waiter in a queue, nothing taken) and lets go of what
	// the case holds.
	prepare func(t *testing.T, s *scheduler.Scheduler) (wait func(tk *task.Task) error, after func(t *testing.T))
}

// cxHeld starts a task that takes a resource with take and keeps it until
// after's release: what a waiter for the resource waits behind.
func cxHeld(t *testing.T, s *scheduler.Scheduler, take, give func(tk *task.Task) error) (release func()) {
	hold := task.NewQueue("hold")
	s.Go("holder", func(tk *task.Task) {
		if err := take(tk); err != nil {
			t.Errorf("holder: %v", err)
			return
		}
		tk.Wait(hold)
		if err := give(tk); err != nil {
			t.Errorf("holder: %v", err)
		}
	})
	return func() { hold.Unblock() }
}

var cxWaits = []cxWait{
	{"Wait", func(t *testing.T, s *scheduler.Scheduler) (func(*task.Task) error, func(*testing.T)) {
		q := task.NewQueue("q")
		return func(tk *task.Task) error { return tk.Wait(q) },
			func(t *testing.T) { cxQueueEmpty(t, q) }
	}},
	{"WaitUntil", func(t *testing.T, s *scheduler.Scheduler) (func(*task.Task) error, func(*testing.T)) {
		q := task.NewQueue("q")
		return func(tk *task.Task) error { return tk.WaitUntil(q, time.Now().Add(time.Hour)) },
			func(t *testing.T) { cxQueueEmpty(t, q) }
	}},
	{"Sleep", func(t *testing.T, s *scheduler.Scheduler) (func(*task.Task) error, func(*testing.T)) {
		return func(tk *task.Task) error { return tk.Sleep(time.Hour) }, nil
	}},
	{"Chan.Send", func(t *testing.T, s *scheduler.Scheduler) (func(*task.Task) error, func(*testing.T)) {
		ch := task.NewChan[int]("c", 0)
		return func(tk *task.Task) error { return ch.Send(tk, 7) },
			func(t *testing.T) {
				// The cancelled send left no value behind.
				if v, ok, err := ch.TryRecv(); ok || err != nil {
					t.Errorf("after the cancelled Send, TryRecv got %d, %v", v, err)
				}
			}
	}},
	{"Chan.Recv", func(t *testing.T, s *scheduler.Scheduler) (func(*task.Task) error, func(*testing.T)) {
		ch := task.NewChan[int]("c", 0)
		return func(tk *task.Task) error { _, err := ch.Recv(tk); return err },
			func(t *testing.T) {
				// No receiver is left waiting to take a value.
				if ok, err := ch.TrySend(7); ok || err != nil {
					t.Errorf("after the cancelled Recv, TrySend: %v, %v", ok, err)
				}
			}
	}},
	{"Chan.RecvUntil", func(t *testing.T, s *scheduler.Scheduler) (func(*task.Task) error, func(*testing.T)) {
		ch := task.NewChan[int]("c", 1)
		return func(tk *task.Task) error { _, err := ch.RecvUntil(tk, time.Now().Add(time.Hour)); return err }, nil
	}},
	{"Select", func(t *testing.T, s *scheduler.Scheduler) (func(*task.Task) error, func(*testing.T)) {
		ch := task.NewChan[int]("c", 0)
		e := task.NewEvent("e")
		sem := task.NewSemaphore("sem", 0)
		return func(tk *task.Task) error {
				var v int
				i, err := task.Select(tk, ch.RecvCase(&v), e.Case(), sem.AcquireCase(), task.After(time.Hour))
				if i != -1 {
					return fmt.Errorf("Select completed case %d (%v)", i, err)
				}
				return err
			}, func(t *testing.T) {
				if ok, _ := ch.TrySend(7); ok || sem.Waiting() != 0 {
					t.Errorf("after the cancelled Select: a receiver took a value %v, %d wait for a permit", ok, sem.Waiting())
				}
			}
	}},
	{"Event.Wait", func(t *testing.T, s *scheduler.Scheduler) (func(*task.Task) error, func(*testing.T)) {
		e := task.NewEvent("e")
		return func(tk *task.Task) error { return e.Wait(tk) }, nil
	}},
	{"Event.WaitUntil", func(t *testing.T, s *scheduler.Scheduler) (func(*task.Task) error, func(*testing.T)) {
		var e task.Event
		return func(tk *task.Task) error { return e.WaitUntil(tk, time.Now().Add(time.Hour)) }, nil
	}},
	{"Semaphore.Acquire", func(t *testing.T, s *scheduler.Scheduler) (func(*task.Task) error, func(*testing.T)) {
		sem := task.NewSemaphore("sem", 1)
		release := cxHeld(t, s, sem.Acquire, sem.Release)
		return func(tk *task.Task) error {
				if err := sem.Acquire(tk); err != nil {
					return err
				}
				return errors.New("acquired a permit that was held")
			}, func(t *testing.T) {
				if sem.Waiting() != 0 || sem.Available() != 0 {
					t.Errorf("after the cancelled Acquire: %d waiting, %d available", sem.Waiting(), sem.Available())
				}
				release()
			}
	}},
	{"Semaphore.AcquireUntil", func(t *testing.T, s *scheduler.Scheduler) (func(*task.Task) error, func(*testing.T)) {
		sem := task.NewSemaphore("sem", 0)
		return func(tk *task.Task) error { return sem.AcquireUntil(tk, time.Now().Add(time.Hour)) },
			func(t *testing.T) {
				if sem.Waiting() != 0 {
					t.Errorf("after the cancelled AcquireUntil: %d waiting", sem.Waiting())
				}
			}
	}},
	{"utensil.Acquire", func(t *testing.T, s *scheduler.Scheduler) (func(*task.Task) error, func(*testing.T)) {
		u := utensil.New("fork")
		release := cxHeld(t, s, u.Acquire, u.Release)
		return func(tk *task.Task) error {
				if err := u.Acquire(tk); err != nil {
					return err
				}
				return errors.New("acquired a fork that was held")
			}, func(t *testing.T) {
				if u.Waiting() != 0 || u.Holder() == nil || u.Holder().Name() != "holder" {
					t.Errorf("after the cancelled Acquire: %d waiting, held by %v", u.Waiting(), u.Holder())
				}
				release()
			}
	}},
	{"utensil.AcquireUntil", func(t *testing.T, s *scheduler.Scheduler) (func(*task.Task) error, func(*testing.T)) {
		u := utensil.New("fork")
		release := cxHeld(t, s, u.Acquire, u.Release)
		return func(tk *task.Task) error { return u.AcquireUntil(tk, time.Now().Add(time.Hour)) },
			func(t *testing.T) {
				if u.Waiting() != 0 {
					t.Errorf("after the cancelled AcquireUntil: %d waiting", u.Waiting())
				}
				release()
			}
	}},
	{"WaitGroup.Wait", func(t *testing.T, s *scheduler.Scheduler) (func(*task.Task) error, func(*testing.T)) {
		var wg task.WaitGroup
		wg.Add(1)
		return func(tk *task.Task) error { return wg.Wait(tk) }, func(t *testing.T) { wg.Done() }
	}},
}

func cxQueueEmpty(t *testing.T, q *task.Queue) {
	t.Helper()
	if q.Len() != 0 {
		t.Errorf("%d task(s) left in %s", q.Len(), q.Label)
	}
}

// TestCancelEachWait cancels a task in each kind of wait, with a cause and
// with none. The wait ends at once, with an error matching
// context.Canceled and the cause; it leaves nothing in any queue and takes
// nothing; and the task's next wait fails at once the same way, since a
// cancelled task stays cancelled.
func TestCancelEachWait(t *testing.T) {
	for _, kind := range cxWaits {
		for _, cause := range []error{errors.New("enough"), nil} {
			t.Run(fmt.Sprintf("%s/cause=%v", kind.name, cause), func(t *testing.T) {
				s := scheduler.New()
				wait, after := kind.prepare(t, s)
				var first, second error
				victim := s.Go("victim", func(tk *task.Task) {
					first = wait(tk)
					second = wait(tk)
				})
				s.Go("canceller", func(tk *task.Task) {
					if !tasktest.UntilBlocked(t, tk, victim) {
						return
					}
					victim.Cancel(cause)
					if victim.State() != task.Ready {
						t.Errorf("the victim is %v right after Cancel, want ready", victim.State())
					}
					if !cxUntilDone(t, tk, victim) {
						s.Kill(victim)
					}
					if after != nil {
						after(t)
					}
				})
				cxRun(t, s)
				cxWantCanceled(t, "the cancelled wait", first, cause)
				cxWantCanceled(t, "the next wait", second, cause)
				if cause == nil && first != nil && first.Error() != "context canceled" && kind.name != "utensil.Acquire" && kind.name != "utensil.AcquireUntil" {
					t.Errorf("cancelled with no cause: %q, want %q", first, "context canceled")
				}
			})
		}
	}
}

// TestCancelNotWaiting cancels a task that is not waiting: it runs on,
// Yield and all, and Cancelled says so, until its next wait, which fails
// at once, as does every wait after. A second Cancel changes nothing.
func TestCancelNotWaiting(t *testing.T) {
	s := scheduler.New()
	first, second := errors.New("first"), errors.New("second")
	var before, during error
	var waits []error
	turns := 0
	victim := s.Go("victim", func(tk *task.Task) {
		before = tk.Cancelled()
		for turns < 3 {
			tk.Yield() // not a wait: cancellation does not stop it
			turns++
		}
		during = tk.Cancelled()
		waits = append(waits, tk.Sleep(time.Hour), tk.Wait(task.NewQueue("q")), tk.Sleep(0))
	})
	s.Go("canceller", func(tk *task.Task) {
		victim.Cancel(first)
		victim.Cancel(second)
	})
	cxRun(t, s)
	if before != nil || turns != 3 {
		t.Errorf("before the Cancel, Cancelled was %v; the victim then ran %d turns, want 3", before, turns)
	}
	cxWantCanceled(t, "Cancelled", during, first)
	for i, err := range waits {
		cxWantCanceled(t, fmt.Sprintf("wait %d", i), err, first)
		if errors.Is(err, second) {
			t.Errorf("wait %d: %v, caused by the second Cancel too", i, err)
		}
	}
}

// TestCancelSelf has a task cancel itself: its next wait fails.
func TestCancelSelf(t *testing.T) {
	s := scheduler.New()
	cause := errors.New("giving up")
	var err error
	s.Go("quitter", func(tk *task.Task) {
		tk.Cancel(cause)
		err = tk.Sleep(time.Hour)
	})
	cxRun(t, s)
	cxWantCanceled(t, "Sleep after cancelling itself", err, cause)
}

// TestCancelHandedResource cancels a waiter after it has been handed what
// it waited for (a fork, a permit, a value) but before it has run: the
// hand-off stands, so the waiter's call succeeds and nothing is lost or
// held twice; only its next wait is cancelled. Once every task has ended,
// the fork is free and the permit back.
func TestCancelHandedResource(t *testing.T) {
	cause := errors.New("too late")
	type handed struct {
		name string
		// hold is the holder's taking of the resource, take the waiter's
		// (which checks it got it, and gives it back), and give the
		// holder's handing it to the waiter.
		hold, take func(tk *task.Task) error
		give       func(tk *task.Task) error
		check      func(t *testing.T)
	}
	u := utensil.New("fork")
	sem := task.NewSemaphore("sem", 1)
	selSem := task.NewSemaphore("sem", 1)
	ch := task.NewChan[int]("c", 0)
	for _, h := range []handed{
		{
			name: "utensil",
			hold: u.Acquire,
			take: func(tk *task.Task) error {
				if err := u.Acquire(tk); err != nil {
					return err
				}
				if u.Holder() != tk {
					return fmt.Errorf("Acquire returned nil, but %v holds the fork", u.Holder())
				}
				return u.Release(tk)
			},
			give: u.Release,
			check: func(t *testing.T) {
				if u.Holder() != nil || u.Waiting() != 0 {
					t.Errorf("fork held by %v, %d waiting", u.Holder(), u.Waiting())
				}
			},
		},
		{
			name: "semaphore",
			hold: sem.Acquire,
			take: func(tk *task.Task) error {
				if err := sem.Acquire(tk); err != nil {
					return err
				}
				if !tk.Holds(sem) {
					return errors.New("Acquire returned nil, but the task holds no permit")
				}
				return sem.Release(tk)
			},
			give: sem.Release,
			check: func(t *testing.T) {
				if sem.Available() != 1 || sem.Waiting() != 0 {
					t.Errorf("%d permit(s) available, %d waiting; want 1, 0", sem.Available(), sem.Waiting())
				}
			},
		},
		{
			name: "semaphore select",
			hold: selSem.Acquire,
			take: func(tk *task.Task) error {
				i, err := task.Select(tk, selSem.AcquireCase(), task.After(time.Hour))
				if i != 0 || err != nil {
					return fmt.Errorf("Select: case %d, %v", i, err)
				}
				return selSem.Release(tk)
			},
			give: selSem.Release,
			check: func(t *testing.T) {
				if selSem.Available() != 1 || selSem.Waiting() != 0 {
					t.Errorf("%d permit(s) available, %d waiting; want 1, 0", selSem.Available(), selSem.Waiting())
				}
			},
		},
		{
			name: "channel value",
			hold: func(*task.Task) error { return nil },
			take: func(tk *task.Task) error {
				v, err := ch.Recv(tk)
				if err == nil && v != 42 {
					err = fmt.Errorf("received %d, want 42", v)
				}
				return err
			},
			give: func(*task.Task) error {
				if ok, err := ch.TrySend(42); !ok || err != nil {
					return fmt.Errorf("TrySend to a waiting receiver: %v, %v", ok, err)
				}
				return nil
			},
		},
	} {
		t.Run(h.name, func(t *testing.T) {
			s := scheduler.New()
			var got, next error
			var waiter *task.Task
			s.Go("holder", func(tk *task.Task) {
				tasktest.Must(h.hold(tk))
				if !tasktest.UntilBlocked(t, tk, waiter) {
					return
				}
				tasktest.Must(h.give(tk))
				waiter.Cancel(cause) // handed, not run yet
			})
			waiter = s.Go("waiter", func(tk *task.Task) {
				got = h.take(tk)
				next = tk.Sleep(time.Hour)
			})
			cxRun(t, s)
			if got != nil {
				t.Errorf("the waiter was handed the resource, then cancelled: %v, want it to have it", got)
			}
			cxWantCanceled(t, "the waiter's next wait", next, cause)
			if h.check != nil {
				h.check(t)
			}
		})
	}
}

// TestMoveOnAfter checks the scope's results: nil when its own deadline
// cut the body short, the body's own result otherwise (also when the
// deadline passed while the body was busy and never waited), and an outer
// cancellation passed on, not absorbed. Once the scope is left, its
// deadline binds nothing.
func TestMoveOnAfter(t *testing.T) {
	errBody := errors.New("body failed")
	cause := errors.New("outer")
	s := scheduler.New()
	var tr tasktest.Trace
	s.Go("mover", func(tk *task.Task) {
		var inner error
		err := tk.MoveOnAfter(10*time.Millisecond, func() error {
			inner = tk.Sleep(time.Hour)
			return inner
		})
		tr.Printf("cut short: %v", err)
		cxWantCanceled(t, "the wait cut short", inner, context.DeadlineExceeded)
		tr.Printf("then Cancelled: %v", tk.Cancelled())

		err = tk.MoveOnAfter(time.Hour, func() error { return errBody })
		tr.Printf("body error: %v", err)

		err = tk.MoveOnAfter(time.Millisecond, func() error {
			time.Sleep(5 * time.Millisecond) // busy past the deadline, never waiting
			return errBody
		})
		tr.Printf("busy past the deadline: %v", err)

		err = tk.MoveOnAfter(time.Millisecond, func() error { return nil })
		tr.Printf("done in time: %v", err)
		// Longer than the scope's deadline: a scope that outlived its
		// MoveOnAfter would cut it short.
		tr.Printf("sleep after the scopes: %v", tk.Sleep(20*time.Millisecond))
	})
	var outer error
	victim := s.Go("moved", func(tk *task.Task) {
		outer = tk.MoveOnAfter(time.Hour, func() error { return tk.Sleep(time.Hour) })
	})
	s.Go("canceller", func(tk *task.Task) {
		if tasktest.UntilBlocked(t, tk, victim) {
			victim.Cancel(cause)
		}
	})
	cxRun(t, s)
	tr.Check(t,
		"cut short: <nil>",
		"then Cancelled: <nil>",
		"body error: body failed",
		"busy past the deadline: body failed",
		"done in time: <nil>",
		"sleep after the scopes: <nil>")
	cxWantCanceled(t, "MoveOnAfter cancelled from outside", outer, cause)
}

// TestMoveOnAtZero: the zero time is no deadline. The body runs to its
// end, however long it waits, and an outer cancellation still reaches it.
func TestMoveOnAtZero(t *testing.T) {
	s := scheduler.New()
	cause := errors.New("outer")
	errBody := errors.New("body")
	var slept, res, outer error
	var dlSet bool
	s.Go("mover", func(tk *task.Task) {
		res = tk.MoveOnAt(time.Time{}, func() error {
			_, dlSet = tk.Context().Deadline()
			slept = tk.Sleep(5 * time.Millisecond)
			return errBody
		})
	})
	victim := s.Go("moved", func(tk *task.Task) {
		outer = tk.MoveOnAt(time.Time{}, func() error { return tk.Sleep(time.Hour) })
	})
	s.Go("canceller", func(tk *task.Task) {
		if tasktest.UntilBlocked(t, tk, victim) {
			victim.Cancel(cause)
		}
	})
	cxRun(t, s)
	if slept != nil || res != errBody || dlSet {
		t.Errorf("MoveOnAt(zero): body's sleep %v, result %v (want %v), context deadline set %v", slept, res, errBody, dlSet)
	}
	cxWantCanceled(t, "MoveOnAt(zero) cancelled from outside", outer, cause)
}

// TestFailAfter: a body cut short by the deadline gives ErrTooSlow, which
// is a timeout to every test Go code makes for one; any other end gives
// the body's result, and an outer cancellation is not turned into a
// timeout.
func TestFailAfter(t *testing.T) {
	s := scheduler.New()
	errBody := errors.New("body")
	cause := errors.New("outer")
	var slow, failed, fine, outer error
	s.Go("failer", func(tk *task.Task) {
		slow = tk.FailAfter(10*time.Millisecond, func() error { return tk.Sleep(time.Hour) })
		failed = tk.FailAfter(time.Hour, func() error { return errBody })
		fine = tk.FailAfter(time.Hour, func() error { return tk.Sleep(time.Millisecond) })
	})
	victim := s.Go("victim", func(tk *task.Task) {
		outer = tk.FailAfter(time.Hour, func() error { return tk.Sleep(time.Hour) })
	})
	s.Go("canceller", func(tk *task.Task) {
		if tasktest.UntilBlocked(t, tk, victim) {
			victim.Cancel(cause)
		}
	})
	cxRun(t, s)
	if slow != task.ErrTooSlow {
		t.Errorf("FailAfter cut short: %v, want ErrTooSlow", slow)
	}
	var ne net.Error
	if !errors.Is(slow, task.ErrTimeout) || !errors.Is(slow, os.ErrDeadlineExceeded) ||
		!errors.Is(slow, context.DeadlineExceeded) || !errors.As(slow, &ne) || !ne.Timeout() {
		t.Errorf("ErrTooSlow %v does not match ErrTimeout, os.ErrDeadlineExceeded, context.DeadlineExceeded and net.Error.Timeout", slow)
	}
	if failed != errBody || fine != nil {
		t.Errorf("FailAfter in time: %v (want %v), %v (want nil)", failed, errBody, fine)
	}
	cxWantCanceled(t, "FailAfter cancelled from outside", outer, cause)
	if errors.Is(outer, task.ErrTooSlow) || errors.Is(outer, task.ErrTimeout) {
		t.Errorf("FailAfter cancelled from outside: %v, reads as a timeout", outer)
	}
}

// TestNestedScopes nests scopes with different deadlines. The earliest
// deadline cuts the body short, and the scope it belongs to absorbs it: an
// inner scope passes an outer scope's cancellation on. When both deadlines
// have passed by the next wait, the outermost scope is the cause, as in
// trio, so only it absorbs (and only the outer FailAfter says ErrTooSlow).
func TestNestedScopes(t *testing.T) {
	errAfter := errors.New("went on")
	s := scheduler.New()
	var outerFirst, outerFirstInner error
	var innerFirst, innerFirstInner, innerFirstAfter error
	var bothOuter, bothInner error
	var failOuter, failInner error
	s.Go("outer earlier", func(tk *task.Task) {
		outerFirst = tk.MoveOnAfter(10*time.Millisecond, func() error {
			outerFirstInner = tk.MoveOnAfter(time.Hour, func() error { return tk.Sleep(time.Hour) })
			return outerFirstInner
		})
	})
	s.Go("inner earlier", func(tk *task.Task) {
		innerFirst = tk.MoveOnAfter(time.Hour, func() error {
			innerFirstInner = tk.MoveOnAfter(10*time.Millisecond, func() error { return tk.Sleep(time.Hour) })
			innerFirstAfter = tk.Sleep(time.Millisecond) // the outer scope is not cancelled
			return errAfter
		})
	})
	s.Go("both passed", func(tk *task.Task) {
		bothOuter = tk.MoveOnAfter(time.Millisecond, func() error {
			bothInner = tk.MoveOnAfter(2*time.Millisecond, func() error {
				time.Sleep(10 * time.Millisecond) // busy past both deadlines
				return tk.Sleep(0)
			})
			return bothInner
		})
	})
	s.Go("both passed, failing", func(tk *task.Task) {
		failOuter = tk.FailAfter(time.Millisecond, func() error {
			failInner = tk.FailAfter(2*time.Millisecond, func() error {
				time.Sleep(10 * time.Millisecond)
				return tk.Sleep(0)
			})
			return failInner
		})
	})
	cxRun(t, s)
	if outerFirst != nil {
		t.Errorf("outer deadline first: outer MoveOnAfter %v, want nil", outerFirst)
	}
	cxWantCanceled(t, "outer deadline first: the inner MoveOnAfter, not absorbing it", outerFirstInner, context.DeadlineExceeded)
	if innerFirstInner != nil || innerFirstAfter != nil || innerFirst != errAfter {
		t.Errorf("inner deadline first: inner %v (want nil), then Sleep %v (want nil), outer %v (want %v)",
			innerFirstInner, innerFirstAfter, innerFirst, errAfter)
	}
	if bothOuter != nil {
		t.Errorf("both passed: outer %v, want nil", bothOuter)
	}
	cxWantCanceled(t, "both passed: the inner MoveOnAfter", bothInner, context.DeadlineExceeded)
	if failOuter != task.ErrTooSlow {
		t.Errorf("both passed: outer FailAfter %v, want ErrTooSlow", failOuter)
	}
	cxWantCanceled(t, "both passed: the inner FailAfter", failInner, context.DeadlineExceeded)
	if failInner == task.ErrTooSlow {
		t.Error("both passed: the inner FailAfter claimed the outer one's deadline")
	}
}

// TestCancelled: Cancelled reports a deadline that passed while the task
// was busy, and forgets it once the scope is left.
func TestCancelled(t *testing.T) {
	s := scheduler.New()
	var fresh, inside, left error
	s.Go("busy", func(tk *task.Task) {
		fresh = tk.Cancelled()
		tk.MoveOnAfter(time.Millisecond, func() error {
			time.Sleep(5 * time.Millisecond)
			inside = tk.Cancelled()
			return nil
		})
		left = tk.Cancelled()
	})
	cxRun(t, s)
	if fresh != nil || left != nil {
		t.Errorf("Cancelled before any scope %v, after leaving it %v; want nil", fresh, left)
	}
	cxWantCanceled(t, "Cancelled past the scope's deadline", inside, context.DeadlineExceeded)
}

// cxWatch watches ctx on a goroutine of its own, as library code would,
// and posts context.Cause back to s once ctx is done. Run waits for it
// (Hold). quit ends the watch if the test fails before ctx is done.
func cxWatch(s *scheduler.Scheduler, ctx context.Context, quit <-chan struct{}, got *error) {
	release := s.Hold()
	go func() {
		var cause error
		select {
		case <-ctx.Done():
			cause = context.Cause(ctx)
		case <-quit:
			cause = errors.New("never done")
		}
		s.Post(func() {
			*got = cause
			release()
		})
	}()
}

// TestContext checks a task's context.Context: library code on another
// goroutine sees it done once the task is cancelled, with the cause; it
// has the deadline of the task's scopes, the earliest; it is done when
// the task, or the scope it was taken in, ends; and it derives from
// RunContext's context.
func TestContext(t *testing.T) {
	t.Run("cancel", func(t *testing.T) {
		s := scheduler.New()
		cause := errors.New("cancelled by the canceller")
		quit := make(chan struct{})
		defer close(quit)
		var watched, err error
		victim := s.Go("victim", func(tk *task.Task) {
			cxWatch(s, tk.Context(), quit, &watched)
			err = tk.Sleep(time.Hour)
		})
		s.Go("canceller", func(tk *task.Task) {
			if tasktest.UntilBlocked(t, tk, victim) {
				victim.Cancel(cause)
			}
		})
		cxRun(t, s)
		cxWantCanceled(t, "the victim's Sleep", err, cause)
		if watched != cause {
			t.Errorf("the watching goroutine saw cause %v, want %v", watched, cause)
		}
	})

	t.Run("ends with the task", func(t *testing.T) {
		s := scheduler.New()
		quit := make(chan struct{})
		defer close(quit)
		var watched, inScope error
		var scoped context.Context
		s.Go("short", func(tk *task.Task) {
			cxWatch(s, tk.Context(), quit, &watched)
			tk.MoveOnAt(time.Time{}, func() error {
				scoped = tk.Context()
				return nil
			})
			inScope = scoped.Err() // the scope has ended: nothing in it goes on
		})
		cxRun(t, s)
		if watched != context.Canceled {
			t.Errorf("the context of a task that ended: cause %v, want context.Canceled", watched)
		}
		if inScope == nil {
			t.Error("the context of a scope that ended is not done")
		}
	})

	t.Run("deadline", func(t *testing.T) {
		s := scheduler.New()
		var root, inner, nested, reversed time.Time
		var rootOK, innerOK bool
		var lo, hi time.Time
		var cutCause error
		s.Go("deadlines", func(tk *task.Task) {
			root, rootOK = tk.Context().Deadline()
			lo = time.Now().Add(time.Minute)
			tk.MoveOnAfter(time.Minute, func() error {
				hi = time.Now().Add(time.Minute)
				inner, innerOK = tk.Context().Deadline()
				// An inner scope's later deadline does not extend the
				// outer one's.
				tk.MoveOnAfter(time.Hour, func() error {
					reversed, _ = tk.Context().Deadline()
					return nil
				})
				return nil
			})
			tk.MoveOnAfter(time.Hour, func() error {
				return tk.MoveOnAfter(time.Minute, func() error {
					nested, _ = tk.Context().Deadline()
					return nil
				})
			})
			var ctx context.Context
			tk.MoveOnAfter(5*time.Millisecond, func() error {
				ctx = tk.Context()
				return tk.Sleep(time.Hour)
			})
			select {
			case <-ctx.Done(): // done already: the scope was cut short, and has ended
				cutCause = context.Cause(ctx)
			default:
				t.Error("the context of a scope cut short is not done")
			}
		})
		cxRun(t, s)
		if rootOK || !root.IsZero() {
			t.Errorf("the deadline of a task with no scope: %v, %v", root, rootOK)
		}
		if !innerOK || inner.Before(lo) || inner.After(hi) {
			t.Errorf("the deadline in MoveOnAfter(1m): %v, %v; want between %v and %v", inner, innerOK, lo, hi)
		}
		if !reversed.Equal(inner) {
			t.Errorf("an hour's scope in a minute's has deadline %v, want the minute's, %v", reversed, inner)
		}
		if until := time.Until(nested); until > time.Minute || until < 30*time.Second {
			t.Errorf("a minute's scope in an hour's: deadline in %v, want a minute", until)
		}
		if cutCause != context.DeadlineExceeded {
			t.Errorf("the context of a scope cut short by its deadline: cause %v, want context.DeadlineExceeded", cutCause)
		}
	})

	t.Run("RunContext", func(t *testing.T) {
		type key struct{}
		base, cancel := context.WithCancelCause(context.WithValue(context.Background(), key{}, "from Run"))
		defer cancel(nil)
		stop := errors.New("shutting down")
		s := scheduler.New()
		watched := make(chan error, 1)
		var value any
		deferred := false
		parked := make(chan struct{})
		s.Go("server", func(tk *task.Task) {
			defer func() { deferred = true }()
			ctx := tk.Context()
			value = ctx.Value(key{})
			go func() { // library code, watching the task's context
				<-ctx.Done()
				watched <- context.Cause(ctx)
			}()
			close(parked)
			tk.Sleep(time.Hour)
			t.Error("the server's Sleep returned after RunContext's context was cancelled")
		})
		ran := make(chan struct{})
		defer close(ran)
		go func() {
			select {
			case <-parked:
				cancel(stop)
			case <-ran: // the test failed before: no goroutine left behind
			}
		}()
		if err := tasktest.RunBounded(runContext{s, base}, cxHang); err != nil {
			t.Fatalf("RunContext: %v", err)
		}
		if s.Len() != 0 || !deferred {
			t.Errorf("after RunContext: %d task(s) left, the server's deferred calls ran: %v", s.Len(), deferred)
		}
		if value != "from Run" {
			t.Errorf("the task's context has value %v, want RunContext's", value)
		}
		select {
		case cause := <-watched:
			if cause != stop {
				t.Errorf("the watching goroutine saw cause %v, want %v", cause, stop)
			}
		case <-time.After(cxHang):
			t.Error("the task's context was never done")
		}
	})
}

// runContext runs a scheduler with RunContext, for RunBounded.
type runContext struct {
	s   *scheduler.Scheduler
	ctx context.Context
}

func (r runContext) Run() error { return r.s.RunContext(r.ctx) }
func (r runContext) Stop()      { r.s.Stop() }

// TestCancelOperationsThatNeedNotWait: once a task is cancelled, every
// operation fails with its cancellation, also those that could complete at
// once (a send with room, a receive with a value, a Select with a ready
// case), in both forms, and leaves the channel as it was.
func TestCancelOperationsThatNeedNotWait(t *testing.T) {
	s := scheduler.New()
	cause := errors.New("enough")
	full := task.NewChan[int]("full", 1)
	full.TrySend(7)
	room := task.NewChan[int]("room", 1)
	var errs []error
	s.Go("generator", func(tk *task.Task) {
		tk.Cancel(cause)
		var v int
		_, err := full.Recv(tk)
		errs = append(errs, room.Send(tk, 1), err)
		_, err = task.Select(tk, full.RecvCase(&v), room.SendCase(2))
		errs = append(errs, err)
	})
	s.GoStep("step", func(tk *task.Task) task.Status {
		tk.Cancel(cause)
		var v int
		_, err := full.RecvStep(tk)
		errs = append(errs, room.SendStep(tk, 3), err)
		_, err = task.SelectStep(tk, full.RecvCase(&v), room.SendCase(4))
		errs = append(errs, err)
		return task.Finish
	})
	cxRun(t, s)
	for i, err := range errs {
		cxWantCanceled(t, fmt.Sprintf("operation %d", i), err, cause)
	}
	if full.Len() != 1 || room.Len() != 0 {
		t.Errorf("after the cancelled operations: %d and %d values, want 1 and 0: nothing taken or given", full.Len(), room.Len())
	}
}
