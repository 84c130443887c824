package task_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lwtask/lwtask/internal/tasktest"
	"github.com/lwtask/lwtask/scheduler"
	"github.com/lwtask/lwtask/task"
)

// Event, Semaphore and WaitGroup: the synchronisation that task code
// builds on queues. Their cancellation is in cancel_test.go.

// TestEventSetWakesAll: Set wakes every task waiting, in the order they
// came; while it is set, Wait returns at once, in the same step; Clear
// makes tasks wait again.
func TestEventSetWakesAll(t *testing.T) {
	s := scheduler.New()
	var tr tasktest.Trace
	e := task.NewEvent("door")
	var waiters []*task.Task
	for _, name := range []string{"A", "B", "C"} {
		waiters = append(waiters, s.Go(name, func(tk *task.Task) {
			err := e.Wait(tk)
			tr.Printf("%s woke: %v", name, err)
		}))
	}
	var late *task.Task
	s.Go("setter", func(tk *task.Task) {
		if !tasktest.UntilBlocked(t, tk, waiters...) {
			return
		}
		if e.IsSet() {
			t.Error("a new event is set")
		}
		e.Set()
		tr.Printf("set: %v", e.IsSet())
		tk.Yield()
		tr.Printf("late waits")
		err := e.Wait(tk) // set: no wait, no yield
		tr.Printf("late passed: %v", err)
		e.Clear()
		late = s.Go("late", func(lt *task.Task) {
			err := e.Wait(lt)
			tr.Printf("late woke: %v", err)
		})
		if !tasktest.UntilBlocked(t, tk, late) {
			return
		}
		tr.Printf("cleared: %v, late %v", e.IsSet(), late.State())
		e.Set()
	})
	cxRun(t, s)
	tr.Check(t,
		"set: true",
		"A woke: <nil>",
		"B woke: <nil>",
		"C woke: <nil>",
		"late waits",
		"late passed: <nil>",
		"cleared: false, late blocked",
		"late woke: <nil>")
}

// TestEventSetThenClear: a Set wakes the tasks waiting even when the event
// is cleared again before they run, as asyncio's does: a pulse is not
// lost. The Case in a Select, and the raw step form, see it the same way.
func TestEventSetThenClear(t *testing.T) {
	s := scheduler.New()
	e := task.NewEvent("pulse")
	var waitErr, selErr, stepErr error
	selected := -2
	stepped := false
	w := s.Go("waiter", func(tk *task.Task) { waitErr = e.Wait(tk) })
	sel := s.Go("selector", func(tk *task.Task) {
		selected, selErr = task.Select(tk, e.Case(), task.After(time.Hour))
	})
	raw := s.GoStep("raw", func(tk *task.Task) task.Status {
		err := e.WaitStep(tk)
		if err == task.ErrAgain {
			return task.Yield
		}
		stepErr, stepped = err, true
		return task.Finish
	})
	s.Go("pulser", func(tk *task.Task) {
		if !tasktest.UntilBlocked(t, tk, w, sel, raw) {
			return
		}
		e.Set()
		e.Clear()
	})
	cxRun(t, s)
	if waitErr != nil || selected != 0 || selErr != nil || !stepped || stepErr != nil {
		t.Errorf("after Set then Clear: Wait %v; Select case %d, %v; WaitStep ran %v, %v; want all woken, no error",
			waitErr, selected, selErr, stepped, stepErr)
	}
}

// TestEventWaitUntil: past its deadline WaitUntil fails with ErrTimeout
// and leaves no waiter behind to be woken by a later Set; a set event
// needs no time at all, so a deadline already past does not matter.
func TestEventWaitUntil(t *testing.T) {
	s := scheduler.New()
	var e task.Event // the zero Event is ready to use
	var timedOut, passed, after error
	s.Go("waiter", func(tk *task.Task) {
		timedOut = e.WaitUntil(tk, time.Now().Add(10*time.Millisecond))
		e.Set()
		passed = e.WaitUntil(tk, time.Now().Add(-time.Hour))
		e.Clear()
		after = e.WaitUntil(tk, time.Now().Add(time.Millisecond))
	})
	cxRun(t, s)
	if !errors.Is(timedOut, task.ErrTimeout) || passed != nil || !errors.Is(after, task.ErrTimeout) {
		t.Errorf("WaitUntil: unset %v, set with a past deadline %v, cleared %v; want ErrTimeout, nil, ErrTimeout", timedOut, passed, after)
	}
}

// TestEventCase: an event's Case in a Select is ready once it is set, and
// at once if it is set already.
func TestEventCase(t *testing.T) {
	s := scheduler.New()
	e := task.NewEvent("e")
	ch := task.NewChan[int]("c", 0)
	var first, second int
	var err1, err2 error
	waiter := s.Go("selector", func(tk *task.Task) {
		var v int
		first, err1 = task.Select(tk, ch.RecvCase(&v), e.Case(), task.After(time.Hour))
		second, err2 = task.Select(tk, ch.RecvCase(&v), e.Case())
	})
	s.Go("setter", func(tk *task.Task) {
		if tasktest.UntilBlocked(t, tk, waiter) {
			e.Set()
		}
	})
	cxRun(t, s)
	if first != 1 || err1 != nil || second != 1 || err2 != nil {
		t.Errorf("Select on an event: %d, %v; set already: %d, %v; want case 1", first, err1, second, err2)
	}
}

// TestSemaphoreHandOff: Release hands the permit straight to the first
// task waiting, in the order they came, and nobody barges in between: not
// TryAcquire, not an Acquire by a task that comes later, though the
// waiter handed the permit has not run yet.
func TestSemaphoreHandOff(t *testing.T) {
	s := scheduler.New()
	sem := task.NewSemaphore("sem", 1)
	var tr tasktest.Trace
	var waiters []*task.Task
	// First to run, the holder takes the permit before the waiters come.
	s.Go("holder", func(tk *task.Task) {
		tasktest.Must(sem.Acquire(tk))
		if !tasktest.UntilBlocked(t, tk, waiters...) {
			return
		}
		tr.Printf("%d waiting", sem.Waiting())
		tasktest.Must(sem.Release(tk))
		tr.Printf("released: %d available, %d waiting, W1 %v", sem.Available(), sem.Waiting(), waiters[0].State())
		if sem.TryAcquire(tk) {
			t.Error("TryAcquire took the permit handed to W1")
		}
		if err := sem.Acquire(tk); err != nil { // behind W2 and W3
			t.Error(err)
			return
		}
		tr.Printf("holder has it again")
		tasktest.Must(sem.Release(tk))
	})
	for _, name := range []string{"W1", "W2", "W3"} {
		waiters = append(waiters, s.Go(name, func(tk *task.Task) {
			if err := sem.Acquire(tk); err != nil {
				t.Errorf("%s: %v", name, err)
				return
			}
			tr.Printf("%s has it", name)
			tk.Yield()
			tasktest.Must(sem.Release(tk))
		}))
	}
	cxRun(t, s)
	tr.Check(t,
		"3 waiting",
		"released: 0 available, 2 waiting, W1 ready",
		"W1 has it",
		"W2 has it",
		"W3 has it",
		"holder has it again")
	if sem.Available() != 1 || sem.Waiting() != 0 {
		t.Errorf("at the end: %d available, %d waiting", sem.Available(), sem.Waiting())
	}
}

// TestSemaphoreKilledWaiterPassesOn: a waiter handed a permit and killed
// before it runs passes the permit on to the next waiter; with nobody
// waiting, it goes back.
func TestSemaphoreKilledWaiterPassesOn(t *testing.T) {
	s := scheduler.New()
	sem := task.NewSemaphore("sem", 1)
	var got []string
	var w1, w2 *task.Task
	s.Go("holder", func(tk *task.Task) {
		tasktest.Must(sem.Acquire(tk))
		w1 = s.Go("W1", func(wt *task.Task) {
			sem.Acquire(wt)
			got = append(got, "W1")
		})
		w2 = s.Go("W2", func(wt *task.Task) {
			if err := sem.Acquire(wt); err != nil {
				t.Errorf("W2: %v", err)
				return
			}
			got = append(got, "W2")
			tasktest.Must(sem.Release(wt))
		})
		if !tasktest.UntilBlocked(t, tk, w1, w2) {
			return
		}
		tasktest.Must(sem.Release(tk)) // to W1
		s.Kill(w1)                     // before W1 runs
		if w2.State() != task.Ready || sem.Available() != 0 {
			t.Errorf("after W1's kill: W2 %v, %d available; want W2 handed the permit", w2.State(), sem.Available())
		}
	})
	cxRun(t, s)
	if len(got) != 1 || got[0] != "W2" {
		t.Errorf("got the permit: %v, want W2 only", got)
	}
	if sem.Available() != 1 || sem.Waiting() != 0 {
		t.Errorf("at the end: %d available, %d waiting", sem.Available(), sem.Waiting())
	}
}

// TestSemaphoreEndHoldingPermits: a task that ends holding permits,
// finished, panicked or killed, gives them all back; a waiter gets one.
func TestSemaphoreEndHoldingPermits(t *testing.T) {
	for _, how := range []string{"finishes", "panics", "killed"} {
		t.Run(how, func(t *testing.T) {
			s := scheduler.New()
			s.SetPanicHandler(func(*task.PanicError) {})
			sem := task.NewSemaphore("sem", 3)
			var hog, waiter *task.Task
			waiterGot := false
			hog = s.Go("hog", func(tk *task.Task) {
				for range 3 {
					tasktest.Must(sem.Acquire(tk))
				}
				if !tasktest.UntilBlocked(t, tk, waiter) {
					return
				}
				switch how {
				case "panics":
					panic("hog panics")
				case "killed":
					tk.Sleep(time.Hour)
				}
			})
			waiter = s.Go("waiter", func(tk *task.Task) {
				if err := sem.Acquire(tk); err != nil {
					t.Errorf("waiter: %v", err)
					return
				}
				waiterGot = true
				// Ends holding its permit too.
			})
			if how == "killed" {
				s.Go("killer", func(tk *task.Task) {
					if tasktest.UntilBlocked(t, tk, hog) {
						s.Kill(hog)
					}
				})
			}
			cxRun(t, s)
			if !waiterGot || sem.Available() != 3 || sem.Waiting() != 0 {
				t.Errorf("waiter got a permit %v; %d available, %d waiting; want true, 3, 0", waiterGot, sem.Available(), sem.Waiting())
			}
		})
	}
}

// TestSemaphoreRelease: a task may give back only the permits it holds,
// however many permits are out: ErrNoPermit otherwise.
func TestSemaphoreRelease(t *testing.T) {
	s := scheduler.New()
	sem := task.NewSemaphore("printer", 2)
	var errs []error
	s.Go("holder", func(tk *task.Task) {
		tasktest.Must(sem.Acquire(tk))
		tk.Yield()
		errs = append(errs, sem.Release(tk), sem.Release(tk))
	})
	s.Go("other", func(tk *task.Task) {
		errs = append(errs, sem.Release(tk)) // holder holds one; other none
	})
	cxRun(t, s)
	if len(errs) != 3 || !errors.Is(errs[0], task.ErrNoPermit) || errs[1] != nil || !errors.Is(errs[2], task.ErrNoPermit) {
		t.Fatalf("Release by a task with no permit, with one, again: %v; want ErrNoPermit, nil, ErrNoPermit", errs)
	}
	if msg := errs[0].Error(); !strings.Contains(msg, "other#2") || !strings.Contains(msg, "printer") {
		t.Errorf("ErrNoPermit message %q names neither the task nor the semaphore", msg)
	}
	if sem.Available() != 2 {
		t.Errorf("%d available, want 2", sem.Available())
	}
	tasktest.MustPanic(t, "negative", func() { task.NewSemaphore("bad", -1) })
}

// TestSemaphoreAcquireUntil: past its deadline AcquireUntil fails with
// ErrTimeout, takes nothing and leaves no waiter behind for a later
// Release to hand a permit to; a free permit needs no time, so a deadline
// already past does not matter.
func TestSemaphoreAcquireUntil(t *testing.T) {
	s := scheduler.New()
	empty := task.NewSemaphore("empty", 0)
	free := task.NewSemaphore("free", 1)
	var timedOut, pastEmpty, pastFree error
	var heldAfter bool
	s.Go("taker", func(tk *task.Task) {
		timedOut = empty.AcquireUntil(tk, time.Now().Add(10*time.Millisecond))
		heldAfter = tk.Holds(empty)
		if empty.Waiting() != 0 {
			t.Errorf("%d waiting after the timeout", empty.Waiting())
		}
		pastEmpty = empty.AcquireUntil(tk, time.Now().Add(-time.Hour))
		pastFree = free.AcquireUntil(tk, time.Now().Add(-time.Hour))
		tasktest.Must(free.Release(tk))
	})
	cxRun(t, s)
	if !errors.Is(timedOut, task.ErrTimeout) || heldAfter {
		t.Errorf("AcquireUntil on an empty semaphore: %v, holds %v; want ErrTimeout, no permit", timedOut, heldAfter)
	}
	if !errors.Is(pastEmpty, task.ErrTimeout) || pastFree != nil {
		t.Errorf("AcquireUntil past its deadline: empty %v (want ErrTimeout), free %v (want nil)", pastEmpty, pastFree)
	}
	if empty.Available() != 0 || empty.Waiting() != 0 || free.Available() != 1 {
		t.Errorf("%d, %d available; want 0, 1", empty.Available(), free.Available())
	}
}

// TestSemaphoreAcquireStep: the raw step form queues the task, which holds
// the permit when its step is next called, without calling AcquireStep
// again.
func TestSemaphoreAcquireStep(t *testing.T) {
	s := scheduler.New()
	sem := task.NewSemaphore("sem", 1)
	var tr tasktest.Trace
	steps := 0
	var raw *task.Task
	s.Go("holder", func(tk *task.Task) {
		tasktest.Must(sem.Acquire(tk))
		raw = s.GoStep("raw", func(rt *task.Task) task.Status {
			steps++
			if steps == 1 {
				err := sem.AcquireStep(rt)
				tr.Printf("step 1: %v, waiting %d", err, sem.Waiting())
				if err != task.ErrAgain {
					return task.Finish
				}
				return task.Yield
			}
			tr.Printf("step %d: holds %v, wait %v", steps, rt.Holds(sem), rt.WaitErr())
			tasktest.Must(sem.Release(rt))
			if err := sem.AcquireStep(rt); err != nil { // free again: at once
				tr.Printf("again: %v", err)
			}
			return task.Finish
		})
		if !tasktest.UntilBlocked(t, tk, raw) {
			return
		}
		tasktest.Must(sem.Release(tk))
	})
	cxRun(t, s)
	tr.Check(t, "step 1: operation would suspend the task: return Yield and try again, waiting 1", "step 2: holds true, wait <nil>")
	if sem.Available() != 1 {
		t.Errorf("%d available, want 1: the raw task ended holding its second permit", sem.Available())
	}
}

// TestWaitGroup: Wait returns once the count is back to zero, for every
// task waiting, and at once when it is zero; the group can be used again;
// a count below zero panics.
func TestWaitGroup(t *testing.T) {
	s := scheduler.New()
	var wg task.WaitGroup
	var tr tasktest.Trace
	wg.Add(3)
	for _, name := range []string{"w1", "w2"} {
		s.Go(name, func(tk *task.Task) {
			err := wg.Wait(tk)
			tr.Printf("%s: %v", name, err)
		})
	}
	for i := range 3 {
		s.Go("worker", func(tk *task.Task) {
			for range i + 1 {
				tk.Yield()
			}
			tr.Printf("worker %d done", i)
			wg.Done()
		})
	}
	s.Go("again", func(tk *task.Task) {
		for range 5 {
			tk.Yield()
		}
		tr.Printf("again: %v", wg.Wait(tk)) // zero: at once
		wg.Add(1)
		s.Go("last", func(lt *task.Task) { wg.Done() })
		tr.Printf("reused: %v", wg.Wait(tk))
		tasktest.MustPanic(t, "below zero", func() { wg.Add(-1) })
	})
	cxRun(t, s)
	tr.Check(t,
		"worker 0 done",
		"worker 1 done",
		"worker 2 done",
		"w1: <nil>",
		"w2: <nil>",
		"again: <nil>",
		"reused: <nil>")
}
