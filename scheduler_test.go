package lwtask_test

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/lwtask/lwtask"
	"github.com/lwtask/lwtask/task"
	"github.com/lwtask/lwtask/utensil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// End-to-end tests of the core runtime through the root package: the
// essay's examples on a Runtime, with its real event source, in both task
// styles and mixed.

func newRuntime(t *testing.T, opts ...lwtask.Option) *lwtask.Runtime {
	t.Helper()
	rt, err := lwtask.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rt.Close(); err != nil {
			t.Error(err)
		}
	})
	return rt
}

// styles says, for each of three tasks, whether it is a raw step.
var styles = map[string][]bool{
	"generator": {false, false, false},
	"step":      {true, true, true},
	"mixed":     {true, false, true},
}

func TestEssayPeople(t *testing.T) {
	people := []struct {
		name  string
		count int
	}{{"John", 2}, {"Michael", 3}, {"Terry", 4}}
	want := []string{
		"John running", "Michael running", "Terry running",
		"John running", "Michael running", "Terry running",
		"Michael running", "Terry running",
		"Terry running",
	}
	for style, raw := range styles {
		t.Run(style, func(t *testing.T) {
			rt := newRuntime(t)
			var out []string
			for i, p := range people {
				if raw[i] {
					left := p.count
					rt.GoStep(p.name, func(*lwtask.Task) task.Status {
						if left == 0 {
							return lwtask.Finish
						}
						left--
						out = append(out, p.name+" running")
						return lwtask.Yield
					})
					continue
				}
				rt.Go(p.name, func(t *lwtask.Task) {
					for range p.count {
						out = append(out, p.name+" running")
						t.Yield()
					}
				})
			}
			if err := rt.Run(); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(out, want) {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(out, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// philosopherStep is the essay's philosopher as a raw step state machine,
// taking its forks with Request.
type philosopherStep struct {
	name                 string
	lifetime, think, eat int
	left, right          *utensil.Utensil
	leftID, rightID      int
	out                  *[]string

	pc, i, j int
}

const (
	atLife = iota
	atThink
	atGotLeft
	atGotRight
	atEat
)

func (p *philosopherStep) say(format string, args ...any) {
	*p.out = append(*p.out, p.name+" "+fmt.Sprintf(format, args...))
}

func (p *philosopherStep) step(t *lwtask.Task) task.Status {
	for {
		switch p.pc {
		case atLife:
			if p.i == p.lifetime {
				p.say("leaving the table")
				return lwtask.Finish
			}
			p.i++
			p.j = 0
			p.pc = atThink
		case atThink:
			if p.j < p.think {
				p.j++
				p.say("thinking")
				return lwtask.Yield
			}
			p.say("waiting for fork %d", p.leftID)
			p.pc = atGotLeft
			if !p.request(t, p.left) {
				return lwtask.Yield
			}
		case atGotLeft:
			p.say("acquired fork %d", p.leftID)
			p.say("waiting for fork %d", p.rightID)
			p.pc = atGotRight
			if !p.request(t, p.right) {
				return lwtask.Yield
			}
		case atGotRight:
			p.say("acquired fork %d", p.rightID)
			p.j = 0
			p.pc = atEat
		case atEat:
			if p.j < p.eat {
				p.j++
				p.say("eating spam")
				return lwtask.Yield
			}
			p.say("releasing forks %d and %d", p.leftID, p.rightID)
			must(p.left.Release(t))
			must(p.right.Release(t))
			p.pc = atLife
		}
	}
}

func (p *philosopherStep) request(t *lwtask.Task, u *utensil.Utensil) bool {
	granted, err := u.Request(t)
	must(err)
	return granted
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// philosopherGen is the same philosopher in generator style.
func (p *philosopherStep) body(t *lwtask.Task) {
	for range p.lifetime {
		for range p.think {
			p.say("thinking")
			t.Yield()
		}
		p.say("waiting for fork %d", p.leftID)
		must(p.left.Acquire(t))
		p.say("acquired fork %d", p.leftID)
		p.say("waiting for fork %d", p.rightID)
		must(p.right.Acquire(t))
		p.say("acquired fork %d", p.rightID)
		for range p.eat {
			p.say("eating spam")
			t.Yield()
		}
		p.say("releasing forks %d and %d", p.leftID, p.rightID)
		must(p.left.Release(t))
		must(p.right.Release(t))
	}
	p.say("leaving the table")
}

// TestEssayPhilosophers seats the essay's trio on a Runtime, as raw steps,
// as generators and mixed: each gives the essay's trace, recorded in the
// philosophers command's golden file.
func TestEssayPhilosophers(t *testing.T) {
	golden, err := os.ReadFile("cmd/philosophers/testdata/essay.golden")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimSuffix(string(golden), "\n"), "\n")
	for style, raw := range styles {
		t.Run(style, func(t *testing.T) {
			rt := newRuntime(t)
			forks := []*utensil.Utensil{utensil.New("fork 0"), utensil.New("fork 1"), utensil.New("fork 2")}
			var out []string
			for i, s := range []struct {
				name                       string
				lifetime, think, eat, l, r int
			}{{"Plato", 7, 2, 3, 0, 1}, {"Socrates", 8, 3, 1, 1, 2}, {"Euclid", 5, 1, 4, 2, 0}} {
				p := &philosopherStep{name: s.name, lifetime: s.lifetime, think: s.think, eat: s.eat,
					left: forks[s.l], right: forks[s.r], leftID: s.l, rightID: s.r, out: &out}
				if raw[i] {
					rt.GoStep(s.name, p.step)
				} else {
					rt.Go(s.name, p.body)
				}
			}
			if err := rt.Run(); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(out, want) {
				for i := range min(len(out), len(want)) {
					if out[i] != want[i] {
						t.Fatalf("line %d: %q, want %q", i+1, out[i], want[i])
					}
				}
				t.Fatalf("%d lines, want %d", len(out), len(want))
			}
		})
	}
}

// TestManyTasks runs 100,000 tasks of each style in one scheduler.
func TestManyTasks(t *testing.T) {
	const n = 100_000
	for _, style := range []string{"step", "generator"} {
		t.Run(style, func(t *testing.T) {
			rt := newRuntime(t)
			steps := 0
			for i := range n {
				count := i % 4 // 0 to 3 yields each
				if style == "step" {
					rt.GoStep("t", func(*lwtask.Task) task.Status {
						steps++
						if count == 0 {
							return lwtask.Finish
						}
						count--
						return lwtask.Yield
					})
					continue
				}
				rt.Go("t", func(t *lwtask.Task) {
					steps++
					for range count {
						t.Yield()
						steps++
					}
				})
			}
			if rt.Len() != n {
				t.Fatalf("Len %d before Run", rt.Len())
			}
			if err := rt.Run(); err != nil {
				t.Fatal(err)
			}
			// Every task runs 1 + count steps: n/4 of each count 0..3.
			if want := n / 4 * (1 + 2 + 3 + 4); steps != want || rt.Len() != 0 {
				t.Fatalf("%d steps, want %d; %d tasks left", steps, want, rt.Len())
			}
		})
	}
}

// TestRuntimeErrors checks the errors of the scheduler through the root
// package's names.
func TestRuntimeErrors(t *testing.T) {
	t.Run("panic", func(t *testing.T) {
		rt := newRuntime(t)
		rt.Go("bomb", func(t *lwtask.Task) { panic("boom") })
		var p *lwtask.PanicError
		if err := rt.Run(); !errors.As(err, &p) || p.Name != "bomb" || p.Value != "boom" {
			t.Fatalf("Run: %v", err)
		}
	})
	t.Run("deadlock", func(t *testing.T) {
		rt := newRuntime(t)
		var q lwtask.Queue
		q.Label = "nothing"
		rt.Go("stuck", func(t *lwtask.Task) { t.Wait(&q) })
		var dl *lwtask.DeadlockError
		if err := rt.Run(); !errors.As(err, &dl) || len(dl.Blocked) != 1 || dl.Blocked[0].WaitingFor != "nothing" {
			t.Fatalf("Run: %v", err)
		}
	})
}

// TestRuntimeWaits drives timers, Post and Stop through each poller backend
// the runtime offers here, the event source that waits for them.
func TestRuntimeWaits(t *testing.T) {
	for _, backend := range []string{"", "epoll", "kqueue", "poll", "select"} {
		t.Run(backend, func(t *testing.T) {
			rt, err := lwtask.New(lwtask.WithPoller(backend))
			if err != nil {
				t.Skipf("no %q poller here: %v", backend, err)
			}
			defer rt.Close()
			var out []string
			var q lwtask.Queue
			// Deadlines from one base, so that their order does not depend
			// on how long the steps between them take.
			base := time.Now()
			rt.Go("timeout", func(t *lwtask.Task) {
				err := t.WaitUntil(&q, base.Add(time.Millisecond))
				out = append(out, fmt.Sprintf("timeout: %v", errors.Is(err, lwtask.ErrTimeout)))
			})
			rt.Go("sleeper", func(t *lwtask.Task) {
				t.Sleep(time.Until(base.Add(5 * time.Millisecond)))
				out = append(out, "slept")
			})
			if err := rt.Run(); err != nil {
				t.Fatal(err)
			}

			// A task waits an hour; another goroutine posts its wake-up.
			waiting := make(chan struct{})
			rt.Go("waiter", func(t *lwtask.Task) {
				close(waiting)
				err := t.WaitUntil(&q, time.Now().Add(time.Hour))
				out = append(out, fmt.Sprintf("posted wake-up: %v", err))
			})
			posted := make(chan error, 1)
			go func() {
				<-waiting
				posted <- rt.Post(func() { q.Unblock() })
			}()
			if err := rt.Run(); err != nil {
				t.Fatal(err)
			}
			if err := <-posted; err != nil {
				t.Fatal(err)
			}

			// And Stop from another goroutine ends a sleeper's hour.
			sleeping := make(chan struct{})
			sleeper := rt.Go("sleeper", func(t *lwtask.Task) {
				close(sleeping)
				t.Sleep(time.Hour)
			})
			go func() {
				<-sleeping
				rt.Stop()
			}()
			if err := rt.Run(); err != nil {
				t.Fatal(err)
			}
			if !sleeper.Done() {
				t.Fatal("sleeper survived Stop")
			}
			want := []string{"timeout: true", "slept", "posted wake-up: <nil>"}
			if !slices.Equal(out, want) {
				t.Fatalf("got %q, want %q", out, want)
			}
		})
	}
}
