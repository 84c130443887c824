package task_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lwtask/lwtask/internal/tasktest"
	"github.com/lwtask/lwtask/scheduler"
	"github.com/lwtask/lwtask/task"
)

// Task groups: structured concurrency as trio's nursery has it. Children
// run inside their owner's scope; the first failure cancels the rest and
// is the group's; a panic is a failure, not the scheduler's business; and
// no child outlives its group, whichever way the owner ends.

// grWaiter is a child that waits until cancelled (or killed), recording
// how its wait ended and whether its deferred calls ran.
type grWaiter struct {
	task     *task.Task
	err      error // what the wait returned
	returned bool  // the wait returned (it does not when the task is killed)
	deferred int   // how many times the deferred calls ran
	again    error // a wait in the deferred calls
}

// grGoWaiter starts a grWaiter in g. wait is its wait.
func grGoWaiter(g *task.Group, name string, wait func(tk *task.Task) error) *grWaiter {
	w := &grWaiter{}
	w.task = g.Go(name, func(tk *task.Task) error {
		defer func() {
			w.deferred++
			w.again = tk.Sleep(time.Millisecond)
		}()
		w.err = wait(tk)
		w.returned = true
		return w.err
	})
	return w
}

func grSleep(tk *task.Task) error { return tk.Sleep(time.Hour) }

// TestGroupWaitsForEveryChild: children run as tasks of their own, taking
// turns with the owner's other work, and Wait returns once the last has
// ended, with nil when none failed. A child's own group nests.
func TestGroupWaitsForEveryChild(t *testing.T) {
	s := scheduler.New()
	var tr tasktest.Trace
	var kids []*task.Task
	s.Go("owner", func(tk *task.Task) {
		g := task.NewGroup(tk)
		for i, turns := range []int{3, 1, 2} {
			kids = append(kids, g.Go(fmt.Sprint("c", i), func(c *task.Task) error {
				for range turns {
					c.Yield()
				}
				tr.Printf("c%d done", i)
				return nil
			}))
		}
		kids = append(kids, g.Go("nester", func(c *task.Task) error {
			inner := task.NewGroup(c)
			inner.Go("grandchild", func(gc *task.Task) error {
				gc.Sleep(time.Millisecond)
				tr.Printf("grandchild done")
				return nil
			})
			err := inner.Wait(c)
			tr.Printf("nester: inner Wait %v", err)
			return err
		}))
		tr.Printf("owner waits for %d", g.Running())
		err := g.Wait(tk)
		done := 0
		for _, k := range kids {
			if k.Done() {
				done++
			}
		}
		tr.Printf("owner: Wait %v; %d running, %d of %d children done", err, g.Running(), done, len(kids))
	})
	cxRun(t, s)
	tr.Check(t,
		"owner waits for 4",
		"c1 done",
		"c2 done",
		"c0 done",
		"grandchild done",
		"nester: inner Wait <nil>",
		"owner: Wait <nil>; 0 running, 4 of 4 children done")
}

// TestGroupFirstErrorCancelsTheRest: the first child to fail cancels the
// others, whatever they wait on, with its error as the cause; Wait waits
// for them all, then returns that first error, not a later one.
func TestGroupFirstErrorCancelsTheRest(t *testing.T) {
	s := scheduler.New()
	boom := errors.New("boom")
	q := task.NewQueue("q")
	ch := task.NewChan[int]("c", 0)
	var werr error
	var waiters []*grWaiter
	var lateErr error
	s.Go("owner", func(tk *task.Task) {
		g := task.NewGroup(tk)
		waiters = append(waiters,
			grGoWaiter(g, "sleeper", grSleep),
			grGoWaiter(g, "queued", func(c *task.Task) error { return c.Wait(q) }),
			grGoWaiter(g, "receiver", func(c *task.Task) error { _, err := ch.Recv(c); return err }))
		g.Go("late", func(c *task.Task) error {
			lateErr = c.Sleep(time.Hour)
			return errors.New("late failure") // after the first: not the group's
		})
		g.Go("failer", func(c *task.Task) error {
			for _, w := range waiters {
				if !tasktest.UntilBlocked(t, c, w.task) {
					return nil
				}
			}
			return boom
		})
		werr = g.Wait(tk)
	})
	cxRun(t, s)
	if werr != boom {
		t.Errorf("Wait: %v, want the first failure, %v", werr, boom)
	}
	for _, w := range waiters {
		if !w.returned {
			t.Errorf("%v: its wait never returned", w.task)
		}
		cxWantCanceled(t, w.task.Name(), w.err, boom)
	}
	cxWantCanceled(t, "late", lateErr, boom)
	if q.Len() != 0 {
		t.Errorf("%d left in the queue", q.Len())
	}
}

// TestGroupChildPanic: a child's panic is the group's failure. Wait returns
// it as a *task.PanicError, the other children are cancelled with it as
// the cause, and the scheduler's panic policy never sees it: by default
// Run would end every task and return the panic, and a handler would be
// called; here a bystander outside the group runs on, and Run returns nil.
func TestGroupChildPanic(t *testing.T) {
	errValue := errors.New("fuse lit")
	for _, policy := range []string{"default", "handler"} {
		t.Run(policy, func(t *testing.T) {
			s := scheduler.New()
			var handled []*task.PanicError
			if policy == "handler" {
				s.SetPanicHandler(func(p *task.PanicError) { handled = append(handled, p) })
			}
			var werr error
			var sibling *grWaiter
			var bomb *task.Task
			s.Go("owner", func(tk *task.Task) {
				g := task.NewGroup(tk)
				sibling = grGoWaiter(g, "sibling", grSleep)
				bomb = g.Go("bomb", func(c *task.Task) error {
					if tasktest.UntilBlocked(t, c, sibling.task) {
						panic(errValue)
					}
					return nil
				})
				werr = g.Wait(tk)
			})
			turns := 0
			s.Go("bystander", func(tk *task.Task) {
				for ; turns < 20; turns++ {
					tk.Yield()
				}
			})
			if err := tasktest.RunBounded(s, cxHang); err != nil {
				t.Fatalf("Run: %v; a group child's panic went to the scheduler's policy", err)
			}
			if len(handled) != 0 {
				t.Errorf("the panic handler was called: %v", handled[0])
			}
			if turns != 20 {
				t.Errorf("the bystander ran %d turns of 20", turns)
			}
			var pe *task.PanicError
			if !errors.As(werr, &pe) {
				t.Fatalf("Wait: %v, want a *task.PanicError", werr)
			}
			if pe.Value != errValue || pe.Name != "bomb" || pe.ID != bomb.ID() || !strings.Contains(string(pe.Stack), "TestGroupChildPanic") {
				t.Errorf("PanicError: %s#%d, value %v; want bomb#%d, %v, with the stack where it panicked:\n%s",
					pe.Name, pe.ID, pe.Value, bomb.ID(), errValue, pe.Stack)
			}
			if !errors.Is(werr, errValue) {
				t.Errorf("Wait: %v does not unwrap to the panic's value", werr)
			}
			cxWantCanceled(t, "the sibling's wait", sibling.err, pe)
		})
	}
}

// TestGroupOwnerKilledWhileWaiting: killing the owner as it waits kills
// every child and grandchild, wherever each is: waiting, ready, not yet
// started. Their deferred calls run, once, and cannot wait.
func TestGroupOwnerKilledWhileWaiting(t *testing.T) {
	s := scheduler.New()
	q := task.NewQueue("q")
	var waiters []*grWaiter
	var grandchild *grWaiter
	var spinner, unstarted *task.Task
	var g *task.Group
	spinnerDeferred, unstartedRan := false, false
	waitReturned := false
	owner := s.Go("owner", func(tk *task.Task) {
		g = task.NewGroup(tk)
		waiters = append(waiters,
			grGoWaiter(g, "sleeper", grSleep),
			grGoWaiter(g, "queued", func(c *task.Task) error { return c.Wait(q) }),
			grGoWaiter(g, "nester", func(c *task.Task) error {
				inner := task.NewGroup(c)
				grandchild = grGoWaiter(inner, "grandchild", grSleep)
				return inner.Wait(c)
			}))
		spinner = g.Go("spinner", func(c *task.Task) error {
			defer func() { spinnerDeferred = true }()
			for {
				c.Yield()
			}
		})
		g.Wait(tk)
		waitReturned = true
	})
	s.Go("killer", func(tk *task.Task) {
		if !tasktest.UntilBlocked(t, tk, owner) {
			return
		}
		for _, w := range waiters {
			tasktest.UntilBlocked(t, tk, w.task)
		}
		tasktest.UntilBlocked(t, tk, grandchild.task)
		// Started in the group (any task may) as the owner is killed: it
		// never runs.
		unstarted = g.Go("unstarted", func(*task.Task) error { unstartedRan = true; return nil })
		s.Kill(owner)
		for _, x := range []*task.Task{owner, spinner, unstarted, grandchild.task, waiters[0].task, waiters[1].task, waiters[2].task} {
			if !x.Done() {
				t.Errorf("%v outlived the owner killed as it waited: %v", x, x.Info())
			}
		}
		if err := tk.Sleep(time.Millisecond); err != nil { // the killer's own waits work on
			t.Errorf("the killer's Sleep: %v", err)
		}
	})
	cxRun(t, s)
	if waitReturned {
		t.Error("the killed owner's Wait returned")
	}
	for _, w := range append(waiters, grandchild) {
		if w.returned || w.deferred != 1 || !errors.Is(w.again, task.ErrKilled) {
			t.Errorf("%v: wait returned %v, deferred calls ran %d times, their wait %v; want a kill, once, ErrKilled",
				w.task, w.returned, w.deferred, w.again)
		}
	}
	if !spinnerDeferred || unstartedRan {
		t.Errorf("spinner's deferred calls ran: %v; the unstarted task ran: %v", spinnerDeferred, unstartedRan)
	}
	if q.Len() != 0 {
		t.Errorf("%d left in the queue", q.Len())
	}
}

// TestGroupOwnerEndsWithoutWait: an owner that returns, or panics, without
// waiting does not leave its children behind: they are killed as it ends,
// a child that never started included.
func TestGroupOwnerEndsWithoutWait(t *testing.T) {
	for _, how := range []string{"returns", "panics"} {
		t.Run(how, func(t *testing.T) {
			s := scheduler.New()
			var panics []*task.PanicError
			s.SetPanicHandler(func(p *task.PanicError) { panics = append(panics, p) })
			var w *grWaiter
			var never *task.Task
			ran := false
			owner := s.Go("owner", func(tk *task.Task) {
				g := task.NewGroup(tk)
				w = grGoWaiter(g, "sleeper", grSleep)
				tasktest.UntilBlocked(t, tk, w.task)
				never = g.Go("never", func(*task.Task) error { ran = true; return nil })
				if how == "panics" {
					panic("owner gives up")
				}
			})
			s.Go("observer", func(tk *task.Task) {
				for !owner.Done() {
					tk.Yield()
				}
				if !w.task.Done() || !never.Done() {
					t.Errorf("after the owner ended: sleeper %v, never %v", w.task.Info(), never.Info())
				}
			})
			cxRun(t, s)
			if w.returned || w.deferred != 1 || ran {
				t.Errorf("sleeper's wait returned %v, its deferred calls ran %d times; the unstarted child ran %v", w.returned, w.deferred, ran)
			}
			if how == "panics" && (len(panics) != 1 || panics[0].Value != "owner gives up") {
				t.Errorf("the owner's panic reached the handler as %v", panics)
			}
			if how == "returns" && len(panics) != 0 {
				t.Errorf("panics: %v", panics)
			}
		})
	}
}

// TestGroupNested: cancelling the outer group reaches the grandchildren in
// a child's group; each group waits for its own, and the cause comes back
// up through both Waits.
func TestGroupNested(t *testing.T) {
	s := scheduler.New()
	cause := errors.New("outer cancelled")
	var outerErr, innerErr error
	var grandchildren []*grWaiter
	var grandCtx context.Context
	s.Go("owner", func(tk *task.Task) {
		g := task.NewGroup(tk)
		g.Go("middle", func(c *task.Task) error {
			inner := task.NewGroup(c)
			grandchildren = append(grandchildren,
				grGoWaiter(inner, "sleeper", grSleep),
				grGoWaiter(inner, "event", func(gc *task.Task) error { return task.NewEvent("never").Wait(gc) }))
			grandchildren = append(grandchildren, grGoWaiter(inner, "context", func(gc *task.Task) error {
				grandCtx = gc.Context()
				return gc.Sleep(time.Hour)
			}))
			innerErr = inner.Wait(c)
			return innerErr
		})
		g.Go("canceller", func(c *task.Task) error {
			for len(grandchildren) < 3 {
				c.Yield()
			}
			if tasktest.UntilBlocked(t, c, grandchildren[0].task, grandchildren[1].task, grandchildren[2].task) {
				g.Cancel(cause)
			}
			return nil
		})
		outerErr = g.Wait(tk)
	})
	cxRun(t, s)
	for _, w := range grandchildren {
		cxWantCanceled(t, w.task.Name(), w.err, cause)
	}
	cxWantCanceled(t, "the inner Wait", innerErr, cause)
	cxWantCanceled(t, "the outer Wait", outerErr, cause)
	// Library code holding a grandchild's context learns why too.
	if grandCtx == nil || context.Cause(grandCtx) != cause {
		t.Errorf("a grandchild's context: cause %v, want %v", context.Cause(grandCtx), cause)
	}
}

// TestGroupOwnerCancelled: cancelling the owner cancels its children; Wait
// still waits for them all, then returns the cancellation. The owner may
// be cancelled before it waits or as it waits, and may or may not be in a
// scope of its own when it makes the group.
func TestGroupOwnerCancelled(t *testing.T) {
	for _, c := range []struct {
		name   string
		during bool // cancelled as it waits, rather than before
		scoped bool // the owner makes the group inside a scope
	}{
		{name: "before Wait", during: false, scoped: false},
		{name: "during Wait, owner in a scope", during: true, scoped: true},
		{name: "during Wait", during: true, scoped: false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := scheduler.New()
			cause := errors.New("owner cancelled")
			var werr error
			var kids []*grWaiter
			var owner *task.Task
			body := func(tk *task.Task) error {
				g := task.NewGroup(tk)
				kids = append(kids, grGoWaiter(g, "sleeper", grSleep), grGoWaiter(g, "sleeper", grSleep))
				if !c.during {
					tasktest.UntilBlocked(t, tk, kids[0].task, kids[1].task)
					owner.Cancel(cause)
				}
				werr = g.Wait(tk)
				for _, k := range kids {
					if !k.task.Done() {
						t.Errorf("Wait returned before %v ended", k.task)
					}
				}
				return werr
			}
			owner = s.Go("owner", func(tk *task.Task) {
				if c.scoped {
					tk.MoveOnAt(time.Time{}, func() error { return body(tk) })
				} else {
					body(tk)
				}
			})
			if c.during {
				s.Go("canceller", func(tk *task.Task) {
					if tasktest.UntilBlocked(t, tk, owner) {
						owner.Cancel(cause)
					}
				})
			}
			cxRun(t, s)
			for _, k := range kids {
				cxWantCanceled(t, k.task.Name(), k.err, cause)
			}
			cxWantCanceled(t, "Wait", werr, cause)
		})
	}
}

// TestGroupChildIgnoresCancellation: a child that goes on after its group
// is cancelled (its waits fail at once, and it does not care) is waited
// for all the same, to its end: the group never returns while a child
// runs. Wait then returns the group's cancellation, whoever started it.
func TestGroupChildIgnoresCancellation(t *testing.T) {
	boom := errors.New("boom")
	cause := errors.New("group cancelled")
	for _, c := range []struct {
		name string
		// failer makes the body of the child that cancels the group,
		// given the owner and the group; the others' waits then fail
		// with want.
		failer func(owner *task.Task, g *task.Group) func(*task.Task) error
		want   error
	}{
		{name: "a sibling fails", want: boom, failer: func(*task.Task, *task.Group) func(*task.Task) error {
			return func(*task.Task) error { return boom }
		}},
		{name: "Group.Cancel", want: cause, failer: func(_ *task.Task, g *task.Group) func(*task.Task) error {
			return func(*task.Task) error { g.Cancel(cause); return nil }
		}},
		{name: "owner cancelled as it waits", want: cause, failer: func(owner *task.Task, _ *task.Group) func(*task.Task) error {
			return func(*task.Task) error { owner.Cancel(cause); return nil }
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := scheduler.New()
			var werr error
			var errs []error
			finished, spun := false, 0
			var stubborn, spinner *task.Task
			s.Go("owner", func(tk *task.Task) {
				// In a scope of its own, so that cancelling the owner
				// reaches the children (see TestGroupOwnerCancelled).
				tk.MoveOnAt(time.Time{}, func() error {
					g := task.NewGroup(tk)
					stubborn = g.Go("stubborn", func(k *task.Task) error {
						for range 5 {
							errs = append(errs, k.Sleep(time.Hour)) // fails at once once cancelled
							k.Yield()
						}
						finished = true
						return nil
					})
					spinner = g.Go("spinner", func(k *task.Task) error {
						for ; spun < 50; spun++ {
							k.Yield() // never waits, so never sees the cancellation
						}
						return nil
					})
					failer := c.failer(tk, g)
					g.Go("failer", func(k *task.Task) error {
						if !tasktest.UntilBlocked(t, k, stubborn) {
							return nil
						}
						return failer(k)
					})
					werr = g.Wait(tk)
					if !finished || spun != 50 || !stubborn.Done() || !spinner.Done() {
						t.Errorf("Wait returned with stubborn finished %v, spinner at %d of 50", finished, spun)
					}
					return nil
				})
			})
			cxRun(t, s)
			want := c.want
			if len(errs) != 5 {
				t.Fatalf("stubborn made %d waits, want 5", len(errs))
			}
			for i, err := range errs {
				cxWantCanceled(t, fmt.Sprintf("stubborn's wait %d", i), err, want)
			}
			if want == boom {
				if werr != boom {
					t.Errorf("Wait: %v, want %v", werr, boom)
				}
				return
			}
			cxWantCanceled(t, "Wait", werr, want)
		})
	}
}

// TestGroupWaitByNonOwnerPanics: only the owner may wait for its group, and
// once the group has ended nobody may start children in it.
func TestGroupWaitByNonOwnerPanics(t *testing.T) {
	s := scheduler.New()
	var g *task.Group
	owner := s.Go("owner", func(tk *task.Task) {
		g = task.NewGroup(tk)
		g.Go("child", func(c *task.Task) error {
			tasktest.MustPanic(t, "only the group's owner", func() { g.Wait(c) })
			return nil
		})
		tk.Yield() // for the stranger
		if err := g.Wait(tk); err != nil {
			t.Errorf("the owner's Wait: %v", err)
		}
		tasktest.MustPanic(t, "after the group has ended", func() { g.Go("late", func(*task.Task) error { return nil }) })
	})
	s.Go("stranger", func(tk *task.Task) {
		tasktest.MustPanic(t, "only the group's owner", func() { g.Wait(tk) })
		tasktest.MustPanic(t, "Group.Wait called with "+owner.String(), func() { g.Wait(owner) })
	})
	cxRun(t, s)
}

// TestGroupDeadline: the deadline of a scope the owner made the group in
// cancels the children, the owner waits for them, and the scope absorbs
// its own deadline: MoveOnAfter moves on, FailAfter fails with ErrTooSlow.
func TestGroupDeadline(t *testing.T) {
	s := scheduler.New()
	var moved, failed error
	var kids []*grWaiter
	s.Go("owner", func(tk *task.Task) {
		moved = tk.MoveOnAfter(10*time.Millisecond, func() error {
			g := task.NewGroup(tk)
			kids = append(kids, grGoWaiter(g, "a", grSleep), grGoWaiter(g, "b", func(c *task.Task) error {
				return c.Wait(task.NewQueue("never"))
			}))
			return g.Wait(tk)
		})
		failed = tk.FailAfter(10*time.Millisecond, func() error {
			g := task.NewGroup(tk)
			kids = append(kids, grGoWaiter(g, "c", grSleep))
			return g.Wait(tk)
		})
	})
	cxRun(t, s)
	if moved != nil {
		t.Errorf("MoveOnAfter around a group: %v, want nil", moved)
	}
	if failed != task.ErrTooSlow {
		t.Errorf("FailAfter around a group: %v, want ErrTooSlow", failed)
	}
	for _, k := range kids {
		cxWantCanceled(t, k.task.Name(), k.err, context.DeadlineExceeded)
	}
}

// TestGroupStop: a Stop while an owner waits for its group ends every
// task, children and grandchildren included, whatever order the scheduler
// ends them in, with their deferred calls run once; Run returns nil.
func TestGroupStop(t *testing.T) {
	s := scheduler.New()
	var kids []*grWaiter
	ownerDeferred := 0
	parked := make(chan struct{})
	s.Go("owner", func(tk *task.Task) {
		defer func() { ownerDeferred++ }()
		g := task.NewGroup(tk)
		kids = append(kids, grGoWaiter(g, "sleeper", grSleep), grGoWaiter(g, "nester", func(c *task.Task) error {
			inner := task.NewGroup(c)
			kids = append(kids, grGoWaiter(inner, "grandchild", grSleep))
			return inner.Wait(c)
		}))
		g.Go("signal", func(c *task.Task) error {
			for len(kids) < 3 {
				c.Yield()
			}
			if tasktest.UntilBlocked(t, c, kids[0].task, kids[1].task, kids[2].task) {
				close(parked)
			}
			return c.Sleep(time.Hour)
		})
		g.Wait(tk)
		t.Error("the owner's Wait returned after Stop")
	})
	defer tasktest.StopWhen(s, parked)()
	cxRun(t, s)
	if ownerDeferred != 1 {
		t.Errorf("the owner's deferred calls ran %d times", ownerDeferred)
	}
	for _, k := range kids {
		if !k.task.Done() || k.returned || k.deferred != 1 || !errors.Is(k.again, task.ErrKilled) {
			t.Errorf("%v: done %v, wait returned %v, deferred calls ran %d times, their wait %v",
				k.task, k.task.Done(), k.returned, k.deferred, k.again)
		}
	}
}

// TestGroupChildKillsOwner: a child that kills its own owner (or a
// grandchild its parent) must not leave the other children running, nor
// the killed owner's own group waiting for it forever.
func TestGroupChildKillsOwner(t *testing.T) {
	t.Run("siblings", func(t *testing.T) {
		s := scheduler.New()
		var owner, other *task.Task
		s.Go("owner", func(tk *task.Task) {
			owner = tk
			g := task.NewGroup(tk)
			other = g.Go("other", func(c *task.Task) error {
				for {
					c.Yield() // ignores cancellation: only a kill ends it
				}
			})
			g.Go("killer", func(c *task.Task) error {
				c.Yield()
				s.Kill(owner)
				return nil
			})
			g.Wait(tk)
		})
		s.Go("observer", func(tk *task.Task) {
			for owner == nil || !owner.Done() {
				tk.Yield()
			}
			if !other.Done() {
				t.Errorf("%v outlived its owner", other)
				s.Kill(other)
			}
		})
		cxRun(t, s)
	})
	t.Run("grandchild", func(t *testing.T) {
		s := scheduler.New()
		var werr error
		waited := false
		s.Go("owner", func(tk *task.Task) {
			g := task.NewGroup(tk)
			var middle *task.Task
			middle = g.Go("middle", func(m *task.Task) error {
				inner := task.NewGroup(m)
				inner.Go("killer", func(c *task.Task) error {
					c.Yield()
					s.Kill(middle)
					return nil
				})
				return inner.Wait(m)
			})
			werr = g.Wait(tk)
			waited = true
		})
		cxRun(t, s)
		if !waited || werr != nil {
			t.Errorf("the outer Wait returned %v: %v", waited, werr)
		}
	})
}
