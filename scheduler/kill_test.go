package scheduler_test

import (
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/lwtask/lwtask/internal/tasktest"
	"github.com/lwtask/lwtask/scheduler"
	"github.com/lwtask/lwtask/task"
	"github.com/lwtask/lwtask/utensil"
)

// victim is a generator-style task that records its progress and whether
// its deferred calls ran.
type victim struct {
	steps   int
	unwound bool
}

func (v *victim) body(t *task.Task) {
	defer func() { v.unwound = true }()
	for {
		v.steps++
		t.Yield()
	}
}

func (v *victim) check(t *testing.T, x *task.Task, steps int) {
	t.Helper()
	if !x.Done() || x.State() != task.Done || !v.unwound || v.steps != steps {
		t.Fatalf("%v: done %v, state %v, unwound %v, steps %d (want %d)", x, x.Done(), x.State(), v.unwound, v.steps, steps)
	}
}

func TestKillReady(t *testing.T) {
	defer goleak.VerifyNone(t)
	s := scheduler.New()
	var v victim
	var x *task.Task
	s.Go("killer", func(t *task.Task) {
		t.Yield() // the victim takes a step and suspends
		if x.State() != task.Ready {
			panic("victim is " + x.State().String())
		}
		s.Kill(x)
		s.Kill(x) // already done: nothing happens
	})
	x = s.Go("victim", v.body)
	tasktest.Run(t, s)
	v.check(t, x, 1)
}

// TestKillBeforeRun kills tasks before Run: they never run, and a
// generator that never started has no coroutine to release.
func TestKillBeforeRun(t *testing.T) {
	s := scheduler.New()
	var v victim
	x := s.Go("victim", v.body)
	y := s.GoStep("raw", func(*task.Task) task.Status { panic("a killed task ran") })
	s.Kill(x)
	s.Kill(y)
	tasktest.Run(t, s)
	if !x.Done() || v.unwound || v.steps != 0 || !y.Done() {
		t.Fatalf("never-run victims: done %v %v, unwound %v, steps %d", x.Done(), y.Done(), v.unwound, v.steps)
	}
}

func TestKillSelfGenerator(t *testing.T) {
	defer goleak.VerifyNone(t)
	s := scheduler.New()
	var tr tasktest.Trace
	unwound := false
	x := s.Go("suicide", func(t *task.Task) {
		defer func() { unwound = true }()
		tr.Printf("before")
		t.Yield()
		s.Kill(t)
		tr.Printf("after Kill") // never reached
	})
	s.Go("witness", func(t *task.Task) {
		t.Yield()
		tr.Printf("witness sees %v", x.State())
	})
	tasktest.Run(t, s)
	tr.Check(t, "before", "witness sees done")
	if !unwound {
		t.Fatal("deferred call of a task that killed itself did not run")
	}
}

func TestKillSelfStep(t *testing.T) {
	s := scheduler.New()
	calls := 0
	x := s.GoStep("suicide", func(t *task.Task) task.Status {
		calls++
		if calls == 2 {
			s.Kill(t)
		}
		return task.Yield // a killed raw step's Yield is ignored
	})
	tasktest.Run(t, s)
	if calls != 2 || !x.Done() {
		t.Fatalf("calls %d, done %v", calls, x.Done())
	}
}

// TestKillBlockedOnUtensil kills a task waiting for a fork: it leaves the
// fork's queue, which does not stall the holder's hand-off later.
func TestKillBlockedOnUtensil(t *testing.T) {
	defer goleak.VerifyNone(t)
	s := scheduler.New()
	fork := utensil.New("fork 0")
	var tr tasktest.Trace
	var waiter *task.Task
	waiterUnwound := false
	s.Go("holder", func(t *task.Task) {
		fork.Acquire(t)
		t.Yield()
		t.Yield()
		fork.Release(t)
		tr.Printf("released; holder %v, waiting %d", fork.Holder(), fork.Waiting())
	})
	waiter = s.Go("waiter", func(t *task.Task) {
		defer func() { waiterUnwound = true }()
		fork.Acquire(t)
		tr.Printf("waiter got the fork")
	})
	s.Go("killer", func(t *task.Task) {
		tr.Printf("waiter is %s on %s", waiter.State(), waiter.Info().WaitingFor)
		s.Kill(waiter)
	})
	tasktest.Run(t, s)
	tr.Check(t, "waiter is blocked on fork 0", "released; holder <nil>, waiting 0")
	if !waiterUnwound {
		t.Fatal("killed waiter's deferred calls did not run")
	}
}

// handedFork sets up a fork held by "holder" with "first" and "second"
// waiting; the holder releases it, handing it to first, and before first
// runs, meddle is called on it from another task.
func handedFork(t *testing.T, meddle func(s *scheduler.Scheduler, first *task.Task)) (*utensil.Utensil, tasktest.Trace) {
	t.Helper()
	s := scheduler.New()
	fork := utensil.New("fork 0")
	var tr tasktest.Trace
	var first *task.Task
	s.Go("holder", func(t *task.Task) {
		fork.Acquire(t)
		t.Yield() // first and second queue up
		fork.Release(t)
	})
	s.Go("meddler", func(t *task.Task) {
		t.Yield()
		// The holder has released the fork: first holds it but has not run.
		tr.Printf("first is %v; fork held by %v", first.State(), fork.Holder())
		meddle(s, first)
	})
	for _, name := range []string{"first", "second"} {
		x := s.Go(name, func(t *task.Task) {
			fork.Acquire(t)
			tr.Printf("%s eats with %s held by %v", name, fork.Name(), fork.Holder())
			fork.Release(t)
		})
		if name == "first" {
			first = x
		}
	}
	tasktest.Run(t, s)
	return fork, tr
}

// TestKillHandedUtensil is the hand-off-plus-cancellation deadlock: a
// waiter killed after being handed the fork, before it ran, must pass the
// fork on to the next waiter.
func TestKillHandedUtensil(t *testing.T) {
	fork, tr := handedFork(t, func(s *scheduler.Scheduler, first *task.Task) { s.Kill(first) })
	tr.Check(t, "first is ready; fork held by first#3", "second eats with fork 0 held by second#4")
	if fork.Holder() != nil {
		t.Fatalf("fork still held by %v", fork.Holder())
	}
}

// TestUnscheduleHandedUtensil unschedules a waiter that was handed the fork:
// it keeps the fork while idle and eats once scheduled again.
func TestUnscheduleHandedUtensil(t *testing.T) {
	_, tr := handedFork(t, func(s *scheduler.Scheduler, first *task.Task) {
		s.Unschedule(first)
		s.Go("rescuer", func(t *task.Task) {
			t.Yield()
			s.Schedule(first)
		})
	})
	tr.Check(t, "first is ready; fork held by first#3",
		"first eats with fork 0 held by first#3",
		"second eats with fork 0 held by second#4")
}

// TestUnscheduleBlocked checks that Unschedule leaves a blocked task
// blocked: it is not in the ready list.
func TestUnscheduleBlocked(t *testing.T) {
	s := scheduler.New()
	var tr tasktest.Trace
	var q task.Queue
	x := s.Go("sleeper", func(t *task.Task) {
		t.Wait(&q)
		tr.Printf("woken")
	})
	s.Go("waker", func(t *task.Task) {
		s.Unschedule(x)
		tr.Printf("after Unschedule: %v", x.State())
		q.Unblock()
	})
	tasktest.Run(t, s)
	tr.Check(t, "after Unschedule: blocked", "woken")
}

func TestKillIdleAndSleeping(t *testing.T) {
	defer goleak.VerifyNone(t)
	s := scheduler.New()
	var idle, sleeper victim
	var xi, xs *task.Task
	xi = s.Go("idle", func(t *task.Task) {
		s.Unschedule(t)
		idle.body(t)
	})
	xs = s.Go("sleeper", func(t *task.Task) {
		defer func() { sleeper.unwound = true }()
		sleeper.steps++
		t.Sleep(time.Hour)
	})
	s.Go("killer", func(t *task.Task) {
		if xi.State() != task.Idle || xs.Info().WaitingFor != "sleep" {
			panic("not idle and sleeping: " + xi.State().String() + ", " + xs.Info().WaitingFor)
		}
		s.Kill(xi)
		s.Kill(xs) // its timer goes too, or Run would wait an hour
	})
	tasktest.Run(t, s)
	idle.check(t, xi, 1)
	sleeper.check(t, xs, 1)
}

// TestKillOtherGenerator kills a suspended generator from another one's
// body: the victim unwinds on its own coroutine and the killer goes on.
func TestKillOtherGenerator(t *testing.T) {
	defer goleak.VerifyNone(t)
	s := scheduler.New()
	var tr tasktest.Trace
	var v victim
	x := s.Go("victim", v.body)
	s.Go("killer", func(t *task.Task) {
		t.Yield()
		s.Kill(x)
		tr.Printf("killer goes on; victim unwound %v", v.unwound)
		t.Yield()
		tr.Printf("killer ends")
	})
	tasktest.Run(t, s)
	tr.Check(t, "killer goes on; victim unwound true", "killer ends")
	v.check(t, x, 2)
}

// TestRunEndsEveryTask leaves tasks in every state when Run returns with a
// deadlock: ready ones cannot exist then, so Stop is tried separately.
func TestRunEndsEveryTask(t *testing.T) {
	defer goleak.VerifyNone(t)
	s := scheduler.New()
	fork := utensil.New("fork 0")
	var holder, waiter, idle victim
	xs := []*task.Task{
		s.Go("holder", func(t *task.Task) {
			fork.Acquire(t)
			s.Unschedule(t)
			holder.body(t)
		}),
		s.Go("waiter", func(t *task.Task) {
			defer func() { waiter.unwound = true }()
			waiter.steps++
			fork.Acquire(t)
		}),
		s.Go("idle", func(t *task.Task) {
			s.Unschedule(t)
			idle.body(t)
		}),
	}
	var dl *scheduler.DeadlockError
	if err := s.Run(); !errors.As(err, &dl) || len(dl.Blocked) != 1 || dl.Blocked[0].Name != "waiter" {
		t.Fatalf("Run: %v", err)
	}
	if s.Len() != 0 {
		t.Fatalf("%d tasks left", s.Len())
	}
	holder.check(t, xs[0], 1)
	waiter.check(t, xs[1], 1)
	idle.check(t, xs[2], 1)
}

// TestRunInsideTask calls Run from a task: the scheduler is running, so the
// inner call fails and the outer one goes on.
func TestRunInsideTask(t *testing.T) {
	s := scheduler.New()
	var inner error
	s.Go("nested", func(t *task.Task) {
		inner = s.Run()
		t.Yield()
	})
	tasktest.Run(t, s)
	if !errors.Is(inner, scheduler.ErrRunning) {
		t.Fatalf("inner Run: %v, want ErrRunning", inner)
	}
	// Once Run has returned, it may be called again.
	var tr tasktest.Trace
	s.Go("again", person(&tr, "again", 1))
	tasktest.Run(t, s)
	tr.Check(t, "again running")
}
