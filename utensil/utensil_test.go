package utensil_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/lwtask/lwtask/internal/tasktest"
	"github.com/lwtask/lwtask/scheduler"
	"github.com/lwtask/lwtask/task"
	"github.com/lwtask/lwtask/utensil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestNoBarging releases a fork with a waiter queued, then has two tasks
// that run before the waiter try to take it: the releaser itself and a
// latecomer. Both must queue behind the waiter, which the fork was handed to.
func TestNoBarging(t *testing.T) {
	s := scheduler.New()
	fork := utensil.New("fork 0")
	var tr tasktest.Trace
	var b *task.Task
	s.Go("A", func(t *task.Task) {
		tasktest.Must(fork.Acquire(t))
		t.Yield() // B queues for the fork
		tasktest.Must(fork.Release(t))
		tr.Printf("A released; holder %v, waiting %d", fork.Holder(), fork.Waiting())
		tasktest.Must(fork.Acquire(t))
		tr.Printf("A eats; holder %v", fork.Holder())
		tasktest.Must(fork.Release(t))
	})
	b = s.Go("B", func(t *task.Task) {
		tasktest.Must(fork.Acquire(t))
		tr.Printf("B eats; holder %v, waiting %d", fork.Holder(), fork.Waiting())
		t.Yield()
		tasktest.Must(fork.Release(t))
	})
	s.Go("C", func(t *task.Task) {
		t.Yield()
		tr.Printf("C tries while B is %v", b.State())
		tasktest.Must(fork.Acquire(t))
		tr.Printf("C eats; holder %v", fork.Holder())
		tasktest.Must(fork.Release(t))
	})
	tasktest.Run(t, s)
	tr.Check(t,
		"A released; holder B#2, waiting 0",
		"C tries while B is ready",
		"B eats; holder B#2, waiting 2",
		"A eats; holder A#1",
		"C eats; holder C#3",
	)
	if fork.Holder() != nil || fork.Waiting() != 0 {
		t.Fatalf("fork left held by %v with %d waiting", fork.Holder(), fork.Waiting())
	}
}

// diner is a raw step task that takes two forks with Request, eats for
// one step and puts them back: the state machine a generator's Acquire
// calls hide.
type diner struct {
	name        string
	left, right *utensil.Utensil
	tr          *tasktest.Trace
	state       int
}

func (d *diner) step(t *task.Task) task.Status {
	for {
		switch d.state {
		case 0: // ask for the left fork
			d.state = 1
			if ok, err := d.left.Request(t); err != nil || !ok {
				tasktest.Must(err)
				return task.Yield // next called holding it
			}
		case 1: // holding left; ask for the right
			d.state = 2
			if ok, err := d.right.Request(t); err != nil || !ok {
				tasktest.Must(err)
				return task.Yield
			}
		case 2:
			d.tr.Printf("%s eats with %v and %v", d.name, d.left.Holder(), d.right.Holder())
			d.state = 3
			return task.Yield
		default:
			tasktest.Must(d.left.Release(t))
			tasktest.Must(d.right.Release(t))
			d.tr.Printf("%s done", d.name)
			return task.Finish
		}
	}
}

func TestRequest(t *testing.T) {
	s := scheduler.New()
	var tr tasktest.Trace
	f0, f1 := utensil.New("fork 0"), utensil.New("fork 1")
	for _, name := range []string{"Kant", "Hume", "Locke"} {
		d := &diner{name: name, left: f0, right: f1, tr: &tr}
		s.GoStep(name, d.step)
	}
	tasktest.Run(t, s)
	tr.Check(t,
		"Kant eats with Kant#1 and Kant#1",
		"Kant done",
		"Hume eats with Hume#2 and Hume#2",
		"Hume done",
		"Locke eats with Locke#3 and Locke#3",
		"Locke done",
	)
}

func TestReleaseNotHeld(t *testing.T) {
	s := scheduler.New()
	fork := utensil.New("fork 3")
	var errs []error
	s.Go("Plato", func(t *task.Task) {
		errs = append(errs, fork.Release(t)) // free
		tasktest.Must(fork.Acquire(t))
		t.Yield()
	})
	s.Go("Socrates", func(t *task.Task) {
		errs = append(errs, fork.Release(t)) // Plato's
	})
	tasktest.Run(t, s)
	want := []string{
		"Plato#1 released fork 3, which is held by nobody",
		"Socrates#2 released fork 3, which is held by Plato#1",
	}
	for i, err := range errs {
		if !errors.Is(err, utensil.ErrNotHeld) || !strings.Contains(err.Error(), want[i]) {
			t.Fatalf("Release %d: %v, want ErrNotHeld saying %q", i, err, want[i])
		}
	}
	if len(errs) != 2 {
		t.Fatalf("%d errors", len(errs))
	}
}

func TestAcquireTwice(t *testing.T) {
	s := scheduler.New()
	fork := utensil.New("fork 1")
	var acqErr, reqErr error
	var granted bool
	s.Go("gen", func(t *task.Task) {
		tasktest.Must(fork.Acquire(t))
		acqErr = fork.Acquire(t)
		tasktest.Must(fork.Release(t))
	})
	s.GoStep("step", func(t *task.Task) task.Status {
		if fork.Holder() != t {
			ok, err := fork.Request(t)
			tasktest.Must(err)
			if !ok {
				return task.Yield
			}
		}
		granted, reqErr = fork.Request(t)
		tasktest.Must(fork.Release(t))
		return task.Finish
	})
	tasktest.Run(t, s)
	for _, err := range []error{acqErr, reqErr} {
		if !errors.Is(err, utensil.ErrAlreadyHeld) || !strings.Contains(err.Error(), "holds fork 1") {
			t.Fatalf("second acquire: %v, want ErrAlreadyHeld", err)
		}
	}
	if granted {
		t.Fatal("Request by the holder reported a fresh grant")
	}
}

func TestRequestByOtherTaskPanics(t *testing.T) {
	s := scheduler.New()
	fork := utensil.New("fork 0")
	idle := s.Go("idle", func(*task.Task) {})
	s.Unschedule(idle)
	var msg string
	s.Go("holder", func(t *task.Task) {
		tasktest.Must(fork.Acquire(t))
		defer func() { msg = fmt.Sprint(recover()) }()
		fork.Request(idle)
	})
	tasktest.Run(t, s)
	if !strings.Contains(msg, "called with idle#1, but holder#2 is running") {
		t.Fatalf("panic %q", msg)
	}
}

func TestAccessors(t *testing.T) {
	fork := utensil.New("fork 9")
	if fork.Name() != "fork 9" || fork.Holder() != nil || fork.Waiting() != 0 {
		t.Fatalf("new utensil: %q held by %v, %d waiting", fork.Name(), fork.Holder(), fork.Waiting())
	}
	// Abandon by a task that does not hold the fork changes nothing.
	x := task.NewStep("x", nil)
	fork.Abandon(x)
	if fork.Holder() != nil {
		t.Fatal("Abandon by a stranger changed the holder")
	}
}

// TestKilledHolderReleasesInDefer shows the idiom that keeps a killed
// holder from keeping its fork: release it in a deferred call.
func TestKilledHolderReleasesInDefer(t *testing.T) {
	s := scheduler.New()
	fork := utensil.New("fork 0")
	var tr tasktest.Trace
	holder := s.Go("holder", func(t *task.Task) {
		tasktest.Must(fork.Acquire(t))
		defer fork.Release(t)
		for {
			t.Yield()
		}
	})
	s.Go("waiter", func(t *task.Task) {
		tasktest.Must(fork.Acquire(t))
		tr.Printf("waiter eats; holder %v", fork.Holder())
	})
	s.Go("killer", func(t *task.Task) {
		t.Yield()
		s.Kill(holder)
	})
	tasktest.Run(t, s)
	tr.Check(t, "waiter eats; holder waiter#2")
}

// TestAcquireWokenWithoutUtensil wakes a waiter with Wake, as a
// cancellation would: it leaves the line without the fork, and Acquire
// must say so rather than report success.
func TestAcquireWokenWithoutUtensil(t *testing.T) {
	errCancel := errors.New("cancelled")
	for _, wakeErr := range []error{errCancel, nil} {
		s := scheduler.New()
		fork := utensil.New("fork 0")
		var acqErr error
		var waiter *task.Task
		s.Go("holder", func(t *task.Task) {
			tasktest.Must(fork.Acquire(t))
			t.Yield()
			t.Yield()
			tasktest.Must(fork.Release(t))
		})
		waiter = s.Go("waiter", func(t *task.Task) { acqErr = fork.Acquire(t) })
		s.Go("canceller", func(t *task.Task) { waiter.Wake(wakeErr) })
		tasktest.Run(t, s)
		want := wakeErr
		if want == nil {
			want = task.ErrInterrupted
		}
		if !errors.Is(acqErr, want) || !strings.Contains(fmt.Sprint(acqErr), "waiter#2 stopped waiting for fork 0") {
			t.Fatalf("Acquire after Wake(%v): %v, want an error wrapping %v", wakeErr, acqErr, want)
		}
		if fork.Holder() != nil || fork.Waiting() != 0 {
			t.Fatalf("fork held by %v with %d waiting", fork.Holder(), fork.Waiting())
		}
	}
}

// TestKilledHolderPassesOn kills tasks that hold forks they took up long
// ago, with no deferred Release: a raw step task, and a generator blocked on
// its second fork. Their forks must pass to the waiters, and a task that
// finishes holding a fork passes it on too.
func TestKilledHolderPassesOn(t *testing.T) {
	s := scheduler.New()
	fork0, fork1, fork2 := utensil.New("fork 0"), utensil.New("fork 1"), utensil.New("fork 2")
	var tr tasktest.Trace
	blocker := s.GoStep("blocker", func(t *task.Task) task.Status {
		if fork1.Holder() != t {
			if granted, err := fork1.Request(t); err != nil || !granted {
				panic("blocker could not take fork 1")
			}
		}
		return task.Yield // holds fork 1 until killed
	})
	holder := s.Go("holder", func(t *task.Task) {
		tasktest.Must(fork0.Acquire(t))
		tasktest.Must(fork1.Acquire(t)) // held by blocker
		tr.Printf("holder got fork 1")
	})
	s.Go("leaver", func(t *task.Task) {
		tasktest.Must(fork2.Acquire(t)) // and returns still holding it
	})
	s.Go("waiter", func(t *task.Task) {
		tasktest.Must(fork0.Acquire(t))
		tr.Printf("waiter got fork 0")
		tasktest.Must(fork1.Acquire(t))
		tr.Printf("waiter got fork 1")
		tasktest.Must(fork2.Acquire(t))
		tr.Printf("waiter got fork 2")
	})
	s.Go("killer", func(t *task.Task) {
		t.Yield()
		s.Kill(holder)
		s.Kill(blocker)
	})
	tasktest.Run(t, s)
	tr.Check(t, "waiter got fork 0", "waiter got fork 1", "waiter got fork 2")
	for _, f := range []*utensil.Utensil{fork0, fork1, fork2} {
		if f.Holder() != nil {
			t.Errorf("%s still held by %v", f.Name(), f.Holder())
		}
	}
}
