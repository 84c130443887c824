package scheduler_test

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lwtask/lwtask/internal/tasktest"
	"github.com/lwtask/lwtask/scheduler"
	"github.com/lwtask/lwtask/task"
)

// Tests of work posted from other goroutines when some of it panics: each
// posted function runs under its own recovery, so a panic loses none of
// the others, changes nothing in their order, and never leaves Run waiting
// for a function that will not run.

// hangLimit bounds a Run that should end but might not: the watchdog
// stops the scheduler, and the test fails instead of hanging.
const hangLimit = 20 * time.Second

// explodingPost is a posted function that panics.
func explodingPost() { panic("posted bomb") }

// TestPostedPanicsLoseNothing has 8 goroutines post 20,000 functions each,
// 160,000 in all, while tasks of both styles run, sleep and yield. One
// posted function in 1,000 panics, under LogPanics. Every other one must
// run exactly once, in the order its goroutine posted it, and the log must
// hold exactly the panicking ones, in their order too.
func TestPostedPanicsLoseNothing(t *testing.T) {
	const (
		goroutines = 8
		perG       = 20_000
		total      = goroutines * perG
		every      = 1000 // one in every panics
	)
	bomb := func(i int) bool { return i%every == every-1 }

	s := scheduler.New()
	var logged bytes.Buffer
	s.SetPanicHandler(scheduler.LogPanics(log.New(&logged, "", 0)))

	ran := make([][]int, goroutines) // written on the scheduler's goroutine only
	calls := 0                       // posted functions called, panicking ones too
	done := func() bool { return calls == total }

	start := make(chan struct{})
	steps := make([]int, 4)
	for i := range 3 {
		s.Go(fmt.Sprint("yielder ", i), func(t *task.Task) {
			if i == 0 {
				close(start)
			}
			for !done() {
				steps[i]++
				t.Yield()
			}
		})
	}
	s.Go("sleeper", func(t *task.Task) {
		for !done() {
			if err := t.Sleep(time.Microsecond); err != nil {
				panic(err)
			}
		}
	})
	s.GoStep("raw", func(*task.Task) task.Status {
		if done() {
			return task.Finish
		}
		steps[3]++
		return task.Yield
	})

	wait := tasktest.PostConcurrently(goroutines, perG, start, s.Post, func(g, i int) {
		calls++
		if bomb(i) {
			panic(fmt.Sprintf("post %d/%d", g, i))
		}
		ran[g] = append(ran[g], i)
	})
	err := tasktest.RunBounded(s, hangLimit)
	if err := wait(); err != nil {
		t.Fatalf("Post: %v", err)
	}
	if err != nil {
		t.Fatalf("Run: %v; %d of %d posted functions called", err, calls, total)
	}

	// Each goroutine's functions ran once each, in posting order, but for
	// the ones that panicked; the log names exactly those, in order.
	logs := regexp.MustCompile(`task \(scheduler\)#0 panicked: post (\d+)/(\d+)\n`).FindAllStringSubmatch(logged.String(), -1)
	panicked := make([][]int, goroutines)
	for _, m := range logs {
		g, _ := strconv.Atoi(m[1])
		i, _ := strconv.Atoi(m[2])
		panicked[g] = append(panicked[g], i)
	}
	if n := strings.Count(logged.String(), "panicked:"); n != len(logs) {
		t.Errorf("log has %d panics, %d of them from posted functions", n, len(logs))
	}
	wantRan := tasktest.Sequence(perG, func(i int) bool { return !bomb(i) })
	wantPanicked := tasktest.Sequence(perG, bomb)
	for g := range goroutines {
		if !slices.Equal(ran[g], wantRan) {
			t.Errorf("goroutine %d: %d of its %d functions ran, %s", g, len(ran[g]), len(wantRan), firstDifference(ran[g], wantRan))
		}
		if !slices.Equal(panicked[g], wantPanicked) {
			t.Errorf("goroutine %d: log has %d panics, want %d: %v", g, len(panicked[g]), len(wantPanicked), panicked[g])
		}
	}
	if !strings.Contains(logged.String(), "explodingPost") && !strings.Contains(logged.String(), "TestPostedPanicsLoseNothing") {
		t.Errorf("logged stacks do not show the posted function:\n%.2000s", logged.String())
	}
	t.Logf("%d called, %d logged panics, steps %v", calls, len(logs), steps)
	for i, n := range steps {
		if n == 0 {
			t.Errorf("task %d took no step while the functions were posted", i)
		}
	}
}

// firstDifference describes where got first departs from want.
func firstDifference(got, want []int) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("the %dth is %d, want %d", i, got[i], want[i])
		}
	}
	return fmt.Sprintf("and they agree for the first %d", min(len(got), len(want)))
}

// TestPostedPanicDefaultPolicy makes a posted function panic with no
// handler set: Run returns a *task.PanicError named "(scheduler)" with the
// value and the posted function's stack, ends every task, and still runs
// the functions posted after the panicking one, once each and in order.
func TestPostedPanicDefaultPolicy(t *testing.T) {
	s := scheduler.New()
	var tr tasktest.Trace
	var postErr error
	spinner := s.Go("spinner", func(t *task.Task) {
		defer tr.Printf("spinner ended")
		// Posted from the scheduler's goroutine, so that all four are in
		// one batch, which runs before the spinner's next step.
		for _, f := range []func(){
			func() { tr.Printf("a") },
			explodingPost,
			func() { tr.Printf("b") },
			func() { tr.Printf("c") },
		} {
			postErr = errors.Join(postErr, s.Post(f))
		}
		for {
			t.Yield()
		}
	})
	err := tasktest.RunBounded(s, hangLimit)
	if postErr != nil {
		t.Fatalf("Post: %v", postErr)
	}
	var p *task.PanicError
	if !errors.As(err, &p) || errors.Is(err, tasktest.ErrHung) {
		t.Fatalf("Run: %v, want a *task.PanicError", err)
	}
	if p.Name != "(scheduler)" || p.ID != 0 || p.Value != "posted bomb" {
		t.Fatalf("PanicError for %s#%d with value %v, want (scheduler)#0 with %q", p.Name, p.ID, p.Value, "posted bomb")
	}
	if !strings.Contains(string(p.Stack), "explodingPost") {
		t.Fatalf("stack does not show explodingPost:\n%s", p.Stack)
	}
	if !strings.HasPrefix(err.Error(), "task (scheduler)#0 panicked: posted bomb") {
		t.Fatalf("Error() = %.200q", err)
	}
	// The panic ends Run, but the functions posted after it still run as
	// Run returns, before the tasks are ended.
	tr.Check(t, "a", "b", "c", "spinner ended")
	if !spinner.Done() || s.Len() != 0 {
		t.Fatalf("spinner done %v; %d tasks left", spinner.Done(), s.Len())
	}
}

// TestPostedPanicReleasesHold is process reaping's case: a goroutine posts
// a function that releases a Hold and wakes the waiting task, right after
// one that panics, in the same batch. The release must still run, or Run
// waits for the hold forever.
func TestPostedPanicReleasesHold(t *testing.T) {
	s := scheduler.New()
	var caught []string
	s.SetPanicHandler(func(p *task.PanicError) { caught = append(caught, fmt.Sprint(p.Name, ": ", p.Value)) })
	exited := task.NewQueue("child exit")
	var woken error = errors.New("not woken")
	release := s.Hold()
	s.Go("parent", func(t *task.Task) {
		// Posted from the scheduler's goroutine, so that both are in the
		// batch Run takes next, deterministically; the parent waits first.
		s.Post(explodingPost)
		s.Post(func() {
			release()
			exited.WakeAll(nil)
		})
		woken = t.Wait(exited)
	})
	if err := tasktest.RunBounded(s, hangLimit); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if woken != nil || !slices.Equal(caught, []string{"(scheduler): posted bomb"}) {
		t.Fatalf("parent woken with %v; handler saw %q", woken, caught)
	}
}

// drainingSource is an event source that, like the descriptor queues,
// drains a pending wake-up when it is polled without waiting. It counts
// as many parked tasks as the test says.
type drainingSource struct {
	wake   chan struct{}
	parked int
}

func (d *drainingSource) Parked() int { return d.parked }

func (d *drainingSource) Wakeup() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *drainingSource) Wait(timeout time.Duration) error {
	var expired <-chan time.Time
	switch {
	case timeout == 0:
		select {
		case <-d.wake:
		default:
		}
		return nil
	case timeout > 0:
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		expired = timer.C
	}
	select {
	case <-d.wake:
	case <-expired:
	}
	return nil
}

// TestPostedPanicLeftoverBatch is TestPostedPanicReleasesHold with a task
// parked on the event source, so that Run polls it between turns and the
// poll drains the wake-up of the post. When the first function of the
// batch panics, nothing is ready, and Run must still run the rest of the
// batch rather than wait for an event that may never come.
func TestPostedPanicLeftoverBatch(t *testing.T) {
	src := &drainingSource{wake: make(chan struct{}, 1)}
	s := scheduler.New(scheduler.WithEventSource(src))
	var caught []string
	s.SetPanicHandler(func(p *task.PanicError) { caught = append(caught, fmt.Sprint(p.Name, ": ", p.Value)) })
	released := false
	s.Go("poster", func(*task.Task) {
		src.parked = 1 // as if a task waited for a descriptor
		s.Post(explodingPost)
		s.Post(func() {
			released = true
			src.parked = 0
		})
	})
	if err := tasktest.RunBounded(s, hangLimit); err != nil || !released {
		t.Fatalf("Run: %v; rest of the batch ran: %v", err, released)
	}
	if !slices.Equal(caught, []string{"(scheduler): posted bomb"}) {
		t.Fatalf("handler saw %q", caught)
	}
}
