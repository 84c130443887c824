package task_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lwtask/lwtask/internal/tasktest"
	"github.com/lwtask/lwtask/scheduler"
	"github.com/lwtask/lwtask/task"
)

// The virtual clock (scheduler.WithVirtualClock) with timers, deadlines
// and select: hours pass in no time, and every wait ends exactly when its
// deadline says, so these tests check times to the nanosecond.

// since formats how far t's clock is past base.
func since(t *task.Task, base time.Time) string { return "+" + t.Now().Sub(base).String() }

// TestVirtualSleeps: sleepers wake in deadline order, each exactly at its
// deadline, and the clock stands still while a task is ready: the one that
// spins keeps the sleepers waiting however long it spins.
func TestVirtualSleeps(t *testing.T) {
	s := scheduler.New(scheduler.WithVirtualClock())
	base := s.Now()
	var tr tasktest.Trace
	for _, d := range []time.Duration{3 * time.Hour, time.Second, 90 * time.Minute, 0} {
		s.Go(d.String(), func(tk *task.Task) {
			err := tk.Sleep(d)
			tr.Printf("%v slept until %s: %v", d, since(tk, base), err)
		})
	}
	s.Go("spinner", func(tk *task.Task) {
		for range 1000 {
			tk.Yield()
		}
		tr.Printf("spinner done at %s", since(tk, base))
	})
	tasktest.Run(t, s)
	tr.Check(t,
		"0s slept until +0s: <nil>",
		"spinner done at +0s",
		"1s slept until +1s: <nil>",
		"1h30m0s slept until +1h30m0s: <nil>",
		"3h0m0s slept until +3h0m0s: <nil>")
}

// TestVirtualDeadlines: every kind of timed wait times out exactly at its
// deadline, and one that is satisfied first returns then.
func TestVirtualDeadlines(t *testing.T) {
	s := scheduler.New(scheduler.WithVirtualClock())
	base := s.Now()
	var tr tasktest.Trace
	c := task.NewChan[int]("jobs", 0)
	e := task.NewEvent("door")
	sem := task.NewSemaphore("slots", 0)
	var q task.Queue
	s.Go("waiter", func(tk *task.Task) {
		_, err := c.RecvUntil(tk, tk.Now().Add(time.Hour))
		tr.Printf("receive: %s %v", since(tk, base), errors.Is(err, task.ErrTimeout))
		err = c.SendUntil(tk, 1, tk.Now().Add(time.Hour))
		tr.Printf("send: %s %v", since(tk, base), errors.Is(err, task.ErrTimeout))
		err = e.WaitUntil(tk, tk.Now().Add(time.Hour))
		tr.Printf("event: %s %v", since(tk, base), errors.Is(err, task.ErrTimeout))
		err = sem.AcquireUntil(tk, tk.Now().Add(time.Hour))
		tr.Printf("semaphore: %s %v", since(tk, base), errors.Is(err, task.ErrTimeout))
		err = tk.WaitUntil(&q, tk.Now().Add(time.Hour))
		tr.Printf("queue: %s %v", since(tk, base), errors.Is(err, task.ErrTimeout))
		v, err := c.RecvUntil(tk, tk.Now().Add(time.Hour))
		tr.Printf("receive %d: %s %v", v, since(tk, base), err)
	})
	s.Go("sender", func(tk *task.Task) {
		tk.Sleep(5*time.Hour + 30*time.Minute)
		c.Send(tk, 42)
	})
	tasktest.Run(t, s)
	tr.Check(t,
		"receive: +1h0m0s true",
		"send: +2h0m0s true",
		"event: +3h0m0s true",
		"semaphore: +4h0m0s true",
		"queue: +5h0m0s true",
		"receive 42: +5h30m0s <nil>")
}

// TestVirtualScopes: MoveOnAfter and FailAfter cut their bodies short at
// exactly their deadlines, the inner one first.
func TestVirtualScopes(t *testing.T) {
	s := scheduler.New(scheduler.WithVirtualClock())
	base := s.Now()
	var tr tasktest.Trace
	s.Go("worker", func(tk *task.Task) {
		err := tk.MoveOnAfter(time.Hour, func() error {
			err := tk.FailAfter(10*time.Minute, func() error { return tk.Sleep(24 * time.Hour) })
			tr.Printf("inner: %s %v", since(tk, base), errors.Is(err, task.ErrTooSlow))
			return tk.Sleep(24 * time.Hour)
		})
		tr.Printf("outer: %s %v", since(tk, base), err)
	})
	tasktest.Run(t, s)
	tr.Check(t, "inner: +10m0s true", "outer: +1h0m0s <nil>")
}

// TestVirtualSelect: a select's timer cases, After (from the start of the
// select) and Until, race a channel on the virtual clock, in both styles.
func TestVirtualSelect(t *testing.T) {
	s := scheduler.New(scheduler.WithVirtualClock())
	base := s.Now()
	var tr tasktest.Trace
	c := task.NewChan[string]("news", 0)
	s.Go("reader", func(tk *task.Task) {
		var v string
		i, err := task.Select(tk, c.RecvCase(&v), task.After(2*time.Hour), task.Until(base.Add(time.Hour)))
		tr.Printf("first: case %d at %s %v", i, since(tk, base), err)
		i, err = task.Select(tk, c.RecvCase(&v), task.After(2*time.Hour))
		tr.Printf("second: case %d at %s %v", i, since(tk, base), err)
		i, err = task.Select(tk, c.RecvCase(&v), task.After(5*time.Hour))
		tr.Printf("third: case %d %q at %s %v", i, v, since(tk, base), err)
	})
	s.Go("writer", func(tk *task.Task) {
		tk.Sleep(4 * time.Hour)
		c.Send(tk, "late")
	})
	// The raw step form: wait for a receive or an hour, whichever first.
	var v string
	s.GoStep("stepper", func(tk *task.Task) task.Status {
		i, err := task.SelectStep(tk, c.RecvCase(&v), task.After(30*time.Minute))
		if err == task.ErrAgain {
			return task.Yield
		}
		tr.Printf("step: case %d at %s %v", i, since(tk, base), err)
		return task.Finish
	})
	tasktest.Run(t, s)
	tr.Check(t,
		"step: case 1 at +30m0s <nil>",
		"first: case 2 at +1h0m0s <nil>",
		"second: case 1 at +3h0m0s <nil>",
		`third: case 0 "late" at +4h0m0s <nil>`)
}

// TestVirtualClockStandsStill: with a virtual clock, a program that never
// waits on a timer sees no time pass at all.
func TestVirtualClockStandsStill(t *testing.T) {
	s := scheduler.New(scheduler.WithVirtualClock())
	base := s.Now()
	var got []string
	s.Go("busy", func(tk *task.Task) {
		for i := range 3 {
			tk.Yield()
			got = append(got, fmt.Sprint(i, since(tk, base)))
		}
	})
	tasktest.Run(t, s)
	if fmt.Sprint(got) != "[0+0s 1+0s 2+0s]" {
		t.Fatalf("the clock moved: %v", got)
	}
}

// TestVirtualAfterZero: After(0), or less, is ready at once: the Select
// does not wait, and the clock does not move, although another task is
// ready all along.
func TestVirtualAfterZero(t *testing.T) {
	s := scheduler.New(scheduler.WithVirtualClock())
	base := s.Now()
	var tr tasktest.Trace
	c := task.NewChan[int]("jobs", 1)
	s.Go("poller", func(tk *task.Task) {
		var v int
		for _, d := range []time.Duration{0, -time.Second} {
			i, err := task.Select(tk, c.RecvCase(&v), task.After(d))
			tr.Printf("After(%v): case %d, %v, at %s", d, i, err, since(tk, base))
		}
	})
	s.Go("spinner", func(tk *task.Task) {
		for range 100 {
			tk.Yield()
		}
	})
	tasktest.Run(t, s)
	tr.Check(t,
		"After(0s): case 1, <nil>, at +0s",
		"After(-1s): case 1, <nil>, at +0s")
}
