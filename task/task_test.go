package task_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/lwtask/lwtask/internal/tasktest"
	"github.com/lwtask/lwtask/scheduler"
	"github.com/lwtask/lwtask/task"
	"github.com/lwtask/lwtask/utensil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNames(t *testing.T) {
	x := task.NewStep("Plato", nil)
	if x.Name() != "Plato" || x.ID() != 0 || x.String() != "Plato#0" {
		t.Fatalf("fresh task: name %q id %d string %q", x.Name(), x.ID(), x)
	}
	s := scheduler.New()
	s.Schedule(task.NewStep("first", nil))
	s.Schedule(x)
	if x.ID() != 2 || x.String() != "Plato#2" || !s.Owns(x) {
		t.Fatalf("scheduled task: id %d string %q", x.ID(), x)
	}
	tasktest.MustPanic(t, "another scheduler", func() { scheduler.New().Schedule(x) })
	s.Run()
}

// TestStates follows one task through every state, as an observer task
// sees it between the subject's steps.
func TestStates(t *testing.T) {
	s := scheduler.New()
	fork := utensil.New("fork 0")
	mailbox := &task.Queue{Label: "mailbox"}
	var seen []string
	var releaseErr error
	kant := task.New("Kant", func(t *task.Task) {
		defer func() { releaseErr = fork.Release(t) }()
		seen = append(seen, t.Info().String())
		t.WaitUntil(mailbox, time.Now().Add(time.Hour))
		t.Sleep(time.Hour)
		fork.Acquire(t)
		for {
			t.Yield()
		}
	})
	record := func() { seen = append(seen, kant.Info().String()) }
	record()
	s.Schedule(kant)
	record()
	s.Go("Hume", func(t *task.Task) {
		fork.Acquire(t)
		record()
		mailbox.Unblock()
		record()
		t.Yield()
		record()
		kant.Wake(nil)
		record()
		t.Yield()
		record()
		fork.Release(t)
		record()
		s.Unschedule(kant)
		record()
		s.Schedule(kant)
		record()
		t.Yield()
		s.Kill(kant)
		record()
	})
	if err := s.Run(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Kant#0 idle",
		"Kant#1 ready",
		"Kant#1 running",
		"Kant#1 blocked on mailbox (with deadline)",
		"Kant#1 ready",
		"Kant#1 blocked on sleep",
		"Kant#1 ready",
		"Kant#1 blocked on fork 0",
		"Kant#1 ready", // handed the fork
		"Kant#1 idle",
		"Kant#1 ready",
		"Kant#1 done",
	}
	if !slices.Equal(seen, want) {
		t.Fatalf("states:\n%s\nwant:\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
	if releaseErr != nil || fork.Holder() != nil {
		t.Fatalf("Kant's deferred release: %v; holder now %v", releaseErr, fork.Holder())
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[task.State]string{
		task.Idle: "idle", task.Ready: "ready", task.Running: "running",
		task.Blocked: "blocked", task.Done: "done", task.State(9): "State(9)",
	} {
		if s.String() != want {
			t.Errorf("State %d: %q, want %q", s, s.String(), want)
		}
	}
}

func TestYieldOnRawStepPanics(t *testing.T) {
	x := task.NewStep("raw", func(t *task.Task) task.Status { return task.Finish })
	tasktest.MustPanic(t, "Yield called with raw#0, but no task is running", x.Yield)

	// The same from inside the scheduler, where it surfaces as a PanicError.
	s := scheduler.New()
	s.GoStep("raw", func(t *task.Task) task.Status {
		t.Yield()
		return task.Finish
	})
	var pe *task.PanicError
	if err := s.Run(); !errors.As(err, &pe) || !strings.Contains(fmt.Sprint(pe.Value), "Yield called with raw#1, but it is a raw step task") {
		t.Fatalf("Run returned %v", err)
	}
}

func TestWaitOutsideTaskPanics(t *testing.T) {
	s := scheduler.New()
	var q task.Queue
	x := s.Go("idle", func(t *task.Task) {})
	for op, f := range map[string]func(){
		"Wait":      func() { x.Wait(&q) },
		"WaitUntil": func() { x.WaitUntil(&q, time.Now()) },
		"Sleep":     func() { x.Sleep(0) },
	} {
		tasktest.MustPanic(t, op+" called with idle#1, but no task is running", f)
	}
	s.Run()
}

// TestEndNeverStarted ends a generator-style task that never ran: it must
// not start a coroutine just to unwind it.
func TestEndNeverStarted(t *testing.T) {
	ran := false
	x := task.New("never", func(t *task.Task) { ran = true })
	s := scheduler.New()
	s.Schedule(x)
	before := runtime.NumGoroutine()
	s.Kill(x)
	if ran || !x.Done() || x.State() != task.Done {
		t.Fatalf("ran %v, done %v, state %v", ran, x.Done(), x.State())
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after End, %d before", n, before)
	}
	s.Kill(x) // again: nothing more to do
	if err := s.Run(); err != nil {
		t.Fatal(err)
	}
}

func TestPanicError(t *testing.T) {
	inner := errors.New("fork broke")
	p := &task.PanicError{ID: 3, Name: "Euclid", Value: inner, Stack: []byte("goroutine 7 [running]:")}
	msg := p.Error()
	for _, want := range []string{"Euclid#3", "fork broke", "goroutine 7"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Error() %q lacks %q", msg, want)
		}
	}
	if !errors.Is(p, inner) {
		t.Error("PanicError does not unwrap to the error it carries")
	}
	if (&task.PanicError{Value: "text"}).Unwrap() != nil {
		t.Error("a non-error value unwrapped to an error")
	}
}

// TestErrTimeout checks that a timeout means what it means everywhere in
// Go: os.ErrDeadlineExceeded, and a net.Error whose Timeout is true.
func TestErrTimeout(t *testing.T) {
	var ne net.Error
	if !errors.As(task.ErrTimeout, &ne) || !ne.Timeout() {
		t.Fatal("ErrTimeout is not a net.Error reporting Timeout() true")
	}
	if !errors.Is(task.ErrTimeout, os.ErrDeadlineExceeded) {
		t.Fatalf("ErrTimeout %q is not os.ErrDeadlineExceeded", task.ErrTimeout)
	}
}
