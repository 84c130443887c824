package lwtask_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lwtask/lwtask"
	"github.com/lwtask/lwtask/timeline"
	"github.com/lwtask/lwtask/utensil"
)

// What a Runtime lets one see of its tasks: the virtual clock with real
// descriptors, the recorder's events, the metrics, and the dump from
// another goroutine.

// TestVirtualClockIO waits for a line with an hour's deadline on a real
// socket, on every poller, with a virtual clock: the first wait times out
// exactly an hour on, the second gets the line the peer sends half an hour
// into it, and no real hour passes.
func TestVirtualClockIO(t *testing.T) {
	eachPollerWith(t, []lwtask.Option{lwtask.WithVirtualClock()}, func(t *testing.T, rt *lwtask.Runtime) {
		a, b := newSocketPair(t, rt)
		c := lwtask.NewConn(a)
		start := rt.Now()
		var got []string
		rt.Go("reader", func(tk *lwtask.Task) {
			c.SetReadDeadline(tk.Now().Add(time.Hour))
			_, err := c.ReadLine(tk)
			got = append(got, fmt.Sprintf("%v at +%v", errors.Is(err, lwtask.ErrTimeout), tk.Now().Sub(start)))
			c.SetReadDeadline(tk.Now().Add(time.Hour))
			line, err := c.ReadLine(tk)
			got = append(got, fmt.Sprintf("%q %v at +%v", line, err, tk.Now().Sub(start)))
		})
		rt.Go("writer", func(tk *lwtask.Task) {
			tk.Sleep(90 * time.Minute)
			b.Write(tk, []byte("hello\n"))
		})
		runAll(t, rt)
		want := `[true at +1h0m0s "hello" <nil> at +1h30m0s]`
		if fmt.Sprint(got) != want {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
}

// TestRecorderEvents records a small dinner and a read from a socket, and
// checks the story the events tell: every task created, started and ended
// once; steps open and close in pairs; a wait on a fork, then the fork
// handed over by its holder; a read parked on the descriptor and woken by
// the poller.
func TestRecorderEvents(t *testing.T) {
	rec := timeline.NewRecorder(1 << 12)
	rt := newRuntime(t, lwtask.WithRecorder(rec))
	fork := utensil.New("fork 0")
	a, b := newSocketPair(t, rt)
	rt.Go("holder", func(tk *lwtask.Task) {
		fork.Acquire(tk)
		tk.Yield()
		fork.Release(tk)
	})
	rt.Go("hungry", func(tk *lwtask.Task) {
		fork.Acquire(tk)
		fork.Release(tk)
	})
	rt.Go("reader", func(tk *lwtask.Task) { a.Read(tk, make([]byte, 8)) })
	rt.Go("writer", func(tk *lwtask.Task) {
		tk.Yield()
		tk.Yield()
		b.Write(tk, []byte("x"))
	})
	runAll(t, rt)

	events := rec.Events()
	ids := map[string]uint64{}
	running := map[uint64]bool{}
	counts := map[string]int{}
	for _, e := range events {
		if e.Task != 0 {
			ids[e.Name] = e.Task
		}
		counts[e.Name+" "+e.Kind.String()]++
		switch e.Kind {
		case timeline.Start:
			if running[e.Task] {
				t.Fatalf("%s started twice without an end", e.Name)
			}
			running[e.Task] = true
		case timeline.End:
			if !running[e.Task] {
				t.Fatalf("%s ended a step it had not started", e.Name)
			}
			running[e.Task] = false
		}
	}
	for _, name := range []string{"holder", "hungry", "reader", "writer"} {
		if counts[name+" create"] != 1 || counts[name+" finish"] != 1 {
			t.Errorf("%s: %d creations and %d finishes, want 1 each", name, counts[name+" create"], counts[name+" finish"])
		}
	}
	find := func(kind timeline.Kind, name string) *timeline.Event {
		for i := range events {
			if events[i].Kind == kind && events[i].Name == name {
				return &events[i]
			}
		}
		t.Fatalf("no %s event for %s in:\n%s", kind, name, describe(events))
		return nil
	}
	if e := find(timeline.Block, "hungry"); e.Wait != timeline.WaitQueue || e.Label != "fork 0" {
		t.Errorf("hungry blocked on %v %q, want the queue fork 0", e.Wait, e.Label)
	}
	if e := find(timeline.Wake, "hungry"); e.Peer != ids["holder"] {
		t.Errorf("hungry woken by task %d, want the holder, %d", e.Peer, ids["holder"])
	}
	if e := find(timeline.Block, "reader"); e.Wait != timeline.WaitIO || e.Label != fmt.Sprintf("fd %d read", a.Fd()) {
		t.Errorf("reader blocked on %v %q, want I/O on fd %d read", e.Wait, e.Label, a.Fd())
	}
	if e := find(timeline.Wake, "reader"); e.Peer != 0 || e.Label != "poller" {
		t.Errorf("reader woken by task %d %q, want the poller", e.Peer, e.Label)
	}
	ready := int64(0)
	for _, e := range events {
		if e.Kind == timeline.Poll {
			ready += e.N
		}
	}
	if ready == 0 {
		t.Errorf("no poll found a descriptor ready:\n%s", describe(events))
	}
}

// describe lists events, one a line, for a failure's message.
func describe(events []timeline.Event) string {
	var b strings.Builder
	for _, e := range events {
		fmt.Fprintf(&b, "%v %s#%d peer %d %q arg %d n %d\n", e.Kind, e.Name, e.Task, e.Peer, e.Label, e.Arg, e.N)
	}
	return b.String()
}

// TestMetrics runs generator and raw step tasks that yield, wait on each
// other and on a socket, reading the metrics from another goroutine as the
// loop runs (which the race detector watches), and checks the counts.
func TestMetrics(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		a, b := newSocketPair(t, rt)
		var q lwtask.Queue
		const yields = 100
		rt.Go("yielder", func(tk *lwtask.Task) {
			for range yields {
				tk.Yield()
			}
			q.Unblock()
		})
		rt.Go("waiter", func(tk *lwtask.Task) { tk.Wait(&q) })
		left := yields
		rt.GoStep("stepper", func(tk *lwtask.Task) lwtask.Status {
			if left--; left == 0 {
				return lwtask.Finish
			}
			return lwtask.Yield
		})
		rt.Go("reader", func(tk *lwtask.Task) { a.Read(tk, make([]byte, 1)) })
		rt.Go("writer", func(tk *lwtask.Task) {
			tk.Sleep(time.Millisecond)
			b.Write(tk, []byte("x"))
		})
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					_ = rt.Metrics().String()
				}
			}
		}()
		runAll(t, rt)
		close(stop)
		wg.Wait()
		m := rt.Metrics()
		switch {
		case m.Created != 5 || m.Tasks != 0:
			t.Errorf("created %d, alive %d; want 5 and 0", m.Created, m.Tasks)
		case m.Steps < 2*yields || m.Switches < yields || m.Switches > m.Steps:
			t.Errorf("%d steps, %d switches: want at least %d and %d, no more switches than steps", m.Steps, m.Switches, 2*yields, yields)
		case m.Wakeups < 3: // the waiter, the reader, the writer's sleep
			t.Errorf("%d wake-ups, want at least 3", m.Wakeups)
		case m.Polls == 0 || m.PollEvents == 0:
			t.Errorf("%d polls, %d events: want some", m.Polls, m.PollEvents)
		case m.MaxReady < 4:
			t.Errorf("longest ready list %d, want at least 4", m.MaxReady)
		}
		var decoded lwtask.Metrics
		if err := json.Unmarshal([]byte(rt.MetricsVar().String()), &decoded); err != nil || decoded != m {
			t.Errorf("MetricsVar gives %s (%v), want %+v", rt.MetricsVar(), err, m)
		}
	})
}

// TestMetricsBudget floods a connection: the reader's turns are cut by the
// cooperation budget, and the metrics count the forced yields.
func TestMetricsBudget(t *testing.T) {
	rt := newRuntime(t)
	a, b := newSocketPair(t, rt)
	c := lwtask.NewConn(a)
	const lines = 1000
	rt.Go("reader", func(tk *lwtask.Task) {
		for range lines {
			if _, err := c.ReadLine(tk); err != nil {
				t.Error(err)
				return
			}
		}
	})
	rt.Go("writer", func(tk *lwtask.Task) {
		b.Write(tk, bytes.Repeat([]byte("x\n"), lines))
	})
	runAll(t, rt)
	if m := rt.Metrics(); m.BudgetYields < lines/64-1 {
		t.Fatalf("%d yields forced by the budget, want at least %d", m.BudgetYields, lines/64-1)
	}
}

// TestDumpFromAnotherGoroutine asks a running Runtime for its task table
// from another goroutine, as a signal handler would.
func TestDumpFromAnotherGoroutine(t *testing.T) {
	rt := newRuntime(t)
	var q lwtask.Queue
	q.Label = "doorbell"
	rt.Go("waiter", func(tk *lwtask.Task) { tk.Wait(&q) })
	release := rt.Hold()
	done := make(chan error)
	go func() { done <- rt.Run() }()

	// The first dumps may come before the waiter has run.
	var out bytes.Buffer
	for !strings.Contains(out.String(), "blocked") {
		out.Reset()
		if err := rt.Dump(&out); err != nil {
			t.Fatal(err)
		}
	}
	rt.Post(func() {
		q.Unblock()
		release()
	})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	if len(lines) < 2 || strings.Join(strings.Fields(lines[0]), " ") != "ID NAME STATE WAITING FOR WAITED" ||
		!strings.HasPrefix(strings.Join(strings.Fields(lines[1]), " "), "1 waiter blocked doorbell ") {
		t.Fatalf("dump:\n%s", out.String())
	}
	// Once Run has returned and the Runtime is stopped, there is no loop to ask.
	rt.Stop()
	if err := rt.Dump(&out); err == nil {
		t.Fatal("Dump of a stopped Runtime succeeded")
	}
}

// TestRecorderEnds: a raw step's panic is recorded as a panic, not a kill;
// and a deadlock's timeline ends as the deadlock did: as Run ends the
// blocked tasks, the forks they held pass on to the others in line, and
// neither those hand-overs nor the wake-ups that make them are recorded.
func TestRecorderEnds(t *testing.T) {
	rec := timeline.NewRecorder(1 << 12)
	rt := newRuntime(t, lwtask.WithRecorder(rec))
	rt.SetPanicHandler(func(*lwtask.PanicError) {})
	rt.GoStep("faulty", func(*lwtask.Task) lwtask.Status { panic("step broke") })
	forks := []*utensil.Utensil{utensil.New("fork 0"), utensil.New("fork 1")}
	for i, name := range []string{"left", "right"} {
		rt.Go(name, func(tk *lwtask.Task) {
			forks[i].Acquire(tk)
			tk.Yield()
			forks[1-i].Acquire(tk) // each waits for the other's fork
		})
	}
	var deadlock *lwtask.DeadlockError
	if err := rt.Run(); !errors.As(err, &deadlock) {
		t.Fatalf("Run: %v, want a deadlock", err)
	}

	var ends, holds []string
	woken := false
	killed := false
	for _, e := range rec.Events() {
		switch e.Kind {
		case timeline.Finish, timeline.Panic, timeline.Kill:
			ends = append(ends, fmt.Sprintf("%s %s %s", e.Name, e.Kind, e.Label))
			killed = killed || e.Kind == timeline.Kill
		case timeline.Acquire, timeline.Release:
			holds = append(holds, fmt.Sprintf("%s %s %s", e.Name, e.Kind, e.Label))
		case timeline.Wake:
			woken = woken || killed // a wake-up once the shutdown has begun
		}
	}
	if want := []string{"faulty panic step broke", "left kill ", "right kill "}; strings.Join(ends, "; ") != strings.Join(want, "; ") {
		t.Errorf("ends: %q, want %q", ends, want)
	}
	want := []string{"left acquire fork 0", "right acquire fork 1", "left release fork 0", "right release fork 1"}
	if strings.Join(holds, "; ") != strings.Join(want, "; ") {
		t.Errorf("holds: %q, want %q (no hand-over while Run ends the tasks)", holds, want)
	}
	if woken {
		t.Errorf("a wake-up was recorded while Run ended the deadlocked tasks:\n%s", describe(rec.Events()))
	}
}
