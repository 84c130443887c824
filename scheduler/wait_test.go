package scheduler_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/lwtask/lwtask/internal/tasktest"
	"github.com/lwtask/lwtask/scheduler"
	"github.com/lwtask/lwtask/task"
	"github.com/lwtask/lwtask/utensil"
)

// TestTimersWakeInDeadlineOrder puts raw step tasks to sleep until fixed
// deadlines, scheduled in another order, and a generator that sleeps: they
// wake earliest first, and the others run meanwhile. The clock is virtual,
// so hours pass in no time, and each task wakes exactly at its deadline.
func TestTimersWakeInDeadlineOrder(t *testing.T) {
	s := scheduler.New(scheduler.WithVirtualClock())
	var tr tasktest.Trace
	base := s.Now()
	for _, sl := range []struct {
		name string
		d    time.Duration
	}{{"3h", 3 * time.Hour}, {"1h", time.Hour}, {"2h", 2 * time.Hour}, {"past", -time.Millisecond}} {
		name, d := sl.name, sl.d
		slept := false
		s.GoStep(name, func(t *task.Task) task.Status {
			if slept {
				tr.Printf("%s woke at +%v, error %v", name, t.Now().Sub(base), t.WaitErr())
				return task.Finish
			}
			slept = true
			t.BlockUntil(nil, base.Add(d))
			return task.Yield
		})
	}
	s.Go("sleeper", func(t *task.Task) {
		t.Sleep(4 * time.Hour)
		tr.Printf("sleeper woke at +%v", t.Now().Sub(base))
	})
	tasktest.Run(t, s)
	tr.Check(t, "past woke at +0s, error <nil>", "1h woke at +1h0m0s, error <nil>", "2h woke at +2h0m0s, error <nil>",
		"3h woke at +3h0m0s, error <nil>", "sleeper woke at +4h0m0s")
}

func TestSleepLetsOthersRun(t *testing.T) {
	s := scheduler.New()
	var tr tasktest.Trace
	s.Go("sleeper", func(t *task.Task) {
		t.Sleep(time.Millisecond)
		tr.Printf("sleeper woke")
	})
	s.Go("worker", func(t *task.Task) {
		t.Yield()
		tr.Printf("worker ran while the sleeper slept")
	})
	tasktest.Run(t, s)
	tr.Check(t, "worker ran while the sleeper slept", "sleeper woke")
}

// TestWaitUntilTimeout waits an hour for a reply that never comes, on a
// virtual clock.
func TestWaitUntilTimeout(t *testing.T) {
	s := scheduler.New(scheduler.WithVirtualClock())
	q := task.Queue{Label: "reply"}
	var genErr, stepErr error
	s.Go("gen", func(t *task.Task) {
		genErr = t.WaitUntil(&q, t.Now().Add(time.Hour))
	})
	waited := false
	s.GoStep("step", func(t *task.Task) task.Status {
		if waited {
			stepErr = t.WaitErr()
			return task.Finish
		}
		waited = true
		t.BlockUntil(&q, t.Now().Add(time.Hour))
		return task.Yield
	})
	tasktest.Run(t, s)
	for _, err := range []error{genErr, stepErr} {
		if !errors.Is(err, task.ErrTimeout) {
			t.Fatalf("timed wait returned %v, want ErrTimeout", err)
		}
	}
	if q.Len() != 0 {
		t.Fatalf("%d timed-out tasks still queued", q.Len())
	}
}

// TestWaitUntilUnblocked unblocks a timed waiter before its deadline: the
// wait succeeds and its timer goes, or Run would wait out the hour.
func TestWaitUntilUnblocked(t *testing.T) {
	s := scheduler.New()
	var q task.Queue
	var err error = errBoom
	s.Go("waiter", func(t *task.Task) { err = t.WaitUntil(&q, time.Now().Add(time.Hour)) })
	s.Go("waker", func(t *task.Task) { q.Unblock() })
	tasktest.Run(t, s)
	if err != nil {
		t.Fatalf("WaitUntil: %v", err)
	}
}

func TestWake(t *testing.T) {
	s := scheduler.New()
	var q task.Queue
	var errs []error
	var waiter, sleeper *task.Task
	waiter = s.Go("waiter", func(t *task.Task) { errs = append(errs, t.Wait(&q)) })
	sleeper = s.Go("sleeper", func(t *task.Task) { t.Sleep(time.Hour) })
	s.Go("waker", func(t *task.Task) {
		t.Wake(errBoom) // not blocked: nothing happens
		waiter.Wake(errBoom)
		sleeper.Wake(nil)
		waiter.Wake(errBoom) // ready now: nothing happens
	})
	tasktest.Run(t, s)
	if len(errs) != 1 || errs[0] != errBoom || q.Len() != 0 {
		t.Fatalf("Wait returned %v; %d still queued", errs, q.Len())
	}
}

// TestPostFromGoroutine hands work to a running scheduler from outside: the
// posted functions run in order on the scheduler's goroutine and wake a task
// waiting with a far deadline.
func TestPostFromGoroutine(t *testing.T) {
	s := scheduler.New()
	var tr tasktest.Trace
	var q task.Queue
	waiting := make(chan struct{})
	s.Go("waiter", func(t *task.Task) {
		close(waiting)
		err := t.WaitUntil(&q, time.Now().Add(time.Hour))
		tr.Printf("waiter woken, error %v", err)
	})
	done := make(chan error, 1)
	go func() {
		<-waiting
		for _, f := range []func(){
			func() { tr.Printf("first post") },
			func() {
				tr.Printf("second post")
				s.Go("posted", func(*task.Task) { tr.Printf("posted task runs") })
			},
			func() { q.Unblock() },
		} {
			if err := s.Post(f); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	tasktest.Run(t, s)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Whether the posts arrived together or one at a time, the order holds.
	tr.Check(t, "first post", "second post", "posted task runs", "waiter woken, error <nil>")
}

func TestPostBeforeRun(t *testing.T) {
	s := scheduler.New()
	var tr tasktest.Trace
	for _, msg := range []string{"one", "two"} {
		if err := s.Post(func() { tr.Printf("%s", msg) }); err != nil {
			t.Fatal(err)
		}
	}
	tasktest.Run(t, s) // posted work counts as something that can make tasks ready
	tr.Check(t, "one", "two")
}

func TestPostPanics(t *testing.T) {
	s := scheduler.New()
	s.Post(func() { panic("posted") })
	var p *task.PanicError
	if err := s.Run(); !errors.As(err, &p) || p.Value != "posted" || p.Name != "(scheduler)" {
		t.Fatalf("Run: %v", err)
	}
}

// spinner is a task that yields forever, reporting its first step on
// started; it ends only when killed.
func spinner(s *scheduler.Scheduler, started chan<- struct{}) (*task.Task, *bool) {
	unwound := new(bool)
	x := s.Go("spinner", func(t *task.Task) {
		defer func() { *unwound = true }()
		close(started)
		for {
			t.Yield()
		}
	})
	return x, unwound
}

func TestStopFromGoroutine(t *testing.T) {
	defer goleak.VerifyNone(t)
	s := scheduler.New()
	started := make(chan struct{})
	x, unwound := spinner(s, started)
	go func() {
		<-started
		s.Stop()
	}()
	tasktest.Run(t, s)
	if !x.Done() || !*unwound {
		t.Fatalf("spinner done %v, unwound %v", x.Done(), *unwound)
	}
	if err := s.Post(func() {}); !errors.Is(err, scheduler.ErrStopped) {
		t.Fatalf("Post after Stop: %v", err)
	}
	// Stopped for good: Run ends new tasks without running them.
	y := s.GoStep("late", func(*task.Task) task.Status { panic("ran after Stop") })
	tasktest.Run(t, s)
	if !y.Done() {
		t.Fatal("task scheduled after Stop survived Run")
	}
}

// TestStopFromTask stops the scheduler from a task: no further step runs.
func TestStopFromTask(t *testing.T) {
	s := scheduler.New()
	var tr tasktest.Trace
	s.Go("A", func(t *task.Task) {
		tr.Printf("A")
		t.Yield()
		s.Stop()
		tr.Printf("A stops")
		t.Yield()
		tr.Printf("A after Stop")
	})
	s.Go("B", person(&tr, "B", 3))
	tasktest.Run(t, s)
	tr.Check(t, "A", "B running", "A stops")
}

// TestStopWhileWaiting stops a scheduler that is waiting for a timer.
func TestStopWhileWaiting(t *testing.T) {
	s := scheduler.New()
	sleeping := make(chan struct{})
	x := s.Go("sleeper", func(t *task.Task) {
		close(sleeping)
		t.Sleep(time.Hour)
	})
	go func() {
		<-sleeping
		s.Stop()
	}()
	tasktest.Run(t, s)
	if !x.Done() {
		t.Fatal("sleeper survived Stop")
	}
}

func TestRunContextCancelled(t *testing.T) {
	defer goleak.VerifyNone(t)
	s := scheduler.New()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	x := s.GoStep("never", func(*task.Task) task.Status { panic("ran under a cancelled context") })
	if err := s.RunContext(ctx); err != nil {
		t.Fatal(err)
	}
	if !x.Done() || s.Len() != 0 {
		t.Fatalf("task done %v; %d left", x.Done(), s.Len())
	}
}

func TestRunContextCancelledWhileRunning(t *testing.T) {
	defer goleak.VerifyNone(t)
	s := scheduler.New()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{})
	x, unwound := spinner(s, started)
	go func() {
		<-started
		cancel()
	}()
	if err := s.RunContext(ctx); err != nil {
		t.Fatal(err)
	}
	if !x.Done() || !*unwound {
		t.Fatalf("spinner done %v, unwound %v", x.Done(), *unwound)
	}
}

// deadlocked seats three philosophers who each take their left fork and
// wait for their right.
func deadlocked(s *scheduler.Scheduler) {
	forks := []*utensil.Utensil{utensil.New("fork 0"), utensil.New("fork 1"), utensil.New("fork 2")}
	for i, name := range []string{"Plato", "Socrates", "Euclid"} {
		left, right := forks[i], forks[(i+1)%3]
		s.Go(name, func(t *task.Task) {
			left.Acquire(t)
			t.Yield()
			right.Acquire(t)
		})
	}
}

func TestDeadlockError(t *testing.T) {
	s := scheduler.New()
	deadlocked(s)
	var q task.Queue // a sleeper delays the verdict but does not prevent it
	s.Go("napper", func(t *task.Task) { t.WaitUntil(&q, time.Now().Add(time.Millisecond)) })
	err := s.Run()
	var dl *scheduler.DeadlockError
	if !errors.As(err, &dl) {
		t.Fatalf("Run: %v, want a *DeadlockError", err)
	}
	want := "deadlock: 3 task(s) blocked forever:" +
		"\n\tPlato#1 waiting for fork 1" +
		"\n\tSocrates#2 waiting for fork 2" +
		"\n\tEuclid#3 waiting for fork 0"
	if err.Error() != want {
		t.Fatalf("error:\n%s\nwant:\n%s", err, want)
	}
	for _, info := range dl.Blocked {
		if info.State != task.Blocked {
			t.Fatalf("%v reported as %v", info, info.State)
		}
	}
	if s.Len() != 0 {
		t.Fatalf("%d tasks left after the deadlock", s.Len())
	}
}

// TestDumpTasks checks the dump's columns. The clock is virtual, so that
// the time each blocked task has waited is exactly none.
func TestDumpTasks(t *testing.T) {
	s := scheduler.New(scheduler.WithVirtualClock())
	fork := utensil.New("fork 0")
	q := task.Queue{Label: "inbox"}
	var dump strings.Builder
	s.Go("holder", func(t *task.Task) {
		fork.Acquire(t)
		t.Yield()
		if err := s.DumpTasks(&dump); err != nil {
			panic(err)
		}
		s.Stop()
	})
	s.Go("hungry", func(t *task.Task) { fork.Acquire(t) })
	s.Go("mail", func(t *task.Task) { t.WaitUntil(&q, time.Now().Add(time.Hour)) })
	s.Go("napper", func(t *task.Task) { t.Sleep(time.Hour) })
	s.Go("idler", func(t *task.Task) {
		s.Unschedule(t)
		t.Yield()
	})
	s.Go("spinner", func(t *task.Task) {
		for {
			t.Yield()
		}
	})
	tasktest.Run(t, s)
	want := [][]string{
		{"ID", "NAME", "STATE", "WAITING", "FOR", "WAITED"},
		{"1", "holder", "running"},
		{"2", "hungry", "blocked", "fork", "0", "0s"},
		{"3", "mail", "blocked", "inbox", "(with", "deadline)", "0s"},
		{"4", "napper", "blocked", "sleep", "0s"},
		{"5", "idler", "idle"},
		{"6", "spinner", "ready"},
	}
	lines := strings.Split(strings.TrimSuffix(dump.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("dump:\n%s", dump.String())
	}
	for i, line := range lines {
		if got := strings.Fields(line); strings.Join(got, " ") != strings.Join(want[i], " ") {
			t.Fatalf("dump line %d: %q, want fields %q\n%s", i, line, want[i], dump.String())
		}
	}
	// The columns line up.
	col := strings.Index(lines[0], "STATE")
	for _, line := range lines[1:] {
		if col >= len(line) || line[col-1] != ' ' || line[col] == ' ' {
			t.Fatalf("misaligned dump:\n%s", dump.String())
		}
	}
}

// TestDumpWaited checks that the dump says how long each task has waited:
// on a virtual clock, to the nanosecond.
func TestDumpWaited(t *testing.T) {
	s := scheduler.New(scheduler.WithVirtualClock())
	q := task.Queue{Label: "inbox"}
	var dump strings.Builder
	s.Go("reader", func(t *task.Task) { t.Wait(&q) })
	s.Go("clock", func(t *task.Task) {
		t.Sleep(90 * time.Second)
		s.DumpTasks(&dump)
		q.Unblock()
	})
	tasktest.Run(t, s)
	want := "1   reader  blocked  inbox        1m30s"
	if !strings.Contains(dump.String(), want) {
		t.Fatalf("dump:\n%s\nwant a line %q", dump.String(), want)
	}
}

func TestTasksSnapshot(t *testing.T) {
	s := scheduler.New()
	var infos []task.Info
	s.Go("B", func(t *task.Task) {
		infos = s.Tasks()
	})
	s.Go("A", func(t *task.Task) {})
	tasktest.Run(t, s)
	if len(infos) != 2 || infos[0].String() != "B#1 running" || infos[1].String() != "A#2 ready" {
		t.Fatalf("Tasks() = %v", infos)
	}
}

// TestHold promises work from outside: Run waits for it instead of
// returning or reporting the blocked task as deadlocked.
func TestHold(t *testing.T) {
	s := scheduler.New()
	var tr tasktest.Trace
	q := task.Queue{Label: "child exit"}
	blocked := make(chan struct{})
	release := s.Hold()
	s.Go("parent", func(t *task.Task) {
		close(blocked)
		tr.Printf("parent woken, error %v", t.Wait(&q))
	})
	go func() {
		<-blocked
		s.Post(func() {
			tr.Printf("child exited")
			q.Unblock()
			release()
			release() // a second call changes nothing
		})
	}()
	tasktest.Run(t, s)
	tr.Check(t, "child exited", "parent woken, error <nil>")

	// With the hold released, a blocked task is a deadlock again.
	s.Go("orphan", func(t *task.Task) { t.Wait(&q) })
	var dl *scheduler.DeadlockError
	if err := s.Run(); !errors.As(err, &dl) {
		t.Fatalf("Run: %v, want a deadlock", err)
	}
}

// TestWakeSelfBlocked wakes the running task right after it blocked itself
// in the same step, as closing a descriptor it just parked on does: it is
// ready again at once, and its next step sees the error.
func TestWakeSelfBlocked(t *testing.T) {
	s := scheduler.New()
	q := &task.Queue{Label: "door"}
	errShut := errors.New("door shut")
	steps := 0
	var woken error
	s.GoStep("self", func(tk *task.Task) task.Status {
		steps++
		if steps > 1 {
			woken = tk.WaitErr()
			return task.Finish
		}
		tk.Block(q)
		tk.Wake(errShut)
		if q.Len() != 0 {
			t.Errorf("after Wake: %d still in the queue", q.Len())
		}
		return task.Yield
	})
	if err := s.Run(); err != nil {
		t.Fatal(err)
	}
	if steps != 2 || woken != errShut {
		t.Fatalf("%d steps, woken with %v; want 2 steps and %v", steps, woken, errShut)
	}
}

// countingSource is an event source of the program's own, which keeps its
// parked count itself: a task may say one waits on it.
type countingSource struct {
	parked int
	waits  int
}

func (c *countingSource) Parked() int { return c.parked }
func (c *countingSource) Wait(time.Duration) error {
	c.waits++
	return nil
}
func (c *countingSource) Wakeup() {}

// TestOwnEventSourcePolledEveryTurn: while tasks keep yielding, an event
// source of the program's own with a task parked on it is polled between
// every two turns, as fdqueue's is: the yielders cannot starve it.
func TestOwnEventSourcePolledEveryTurn(t *testing.T) {
	src := &countingSource{parked: 1}
	s := scheduler.New(scheduler.WithEventSource(src))
	const turns = 1000
	for range 2 {
		s.Go("yielder", func(tk *task.Task) {
			for range turns {
				tk.Yield()
			}
			src.parked = 0 // nothing waits on it any more: Run may end
		})
	}
	tasktest.Run(t, s)
	if src.waits < turns {
		t.Errorf("the source was polled %d times in %d turns, want one a turn", src.waits, turns)
	}
}
