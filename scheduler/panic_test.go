package scheduler_test

import (
	"bytes"
	"errors"
	"log"
	"runtime"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/lwtask/lwtask/internal/tasktest"
	"github.com/lwtask/lwtask/scheduler"
	"github.com/lwtask/lwtask/task"
)

var errBoom = errors.New("boom")

func explodingStep(t *task.Task) task.Status { panic(errBoom) }

func explodingBody(t *task.Task) {
	t.Yield()
	panic(errBoom)
}

// bystanders schedules a generator and a raw step that run forever, and
// returns a check that both were ended, the generator's deferred calls run.
func bystanders(s *scheduler.Scheduler, tr *tasktest.Trace) func(t *testing.T) {
	unwound := false
	gen := s.Go("gen", func(t *task.Task) {
		defer func() { unwound = true }()
		for {
			tr.Printf("gen")
			t.Yield()
		}
	})
	raw := s.GoStep("raw", func(*task.Task) task.Status {
		tr.Printf("raw")
		return task.Yield
	})
	return func(t *testing.T) {
		t.Helper()
		if !gen.Done() || !raw.Done() || !unwound {
			t.Fatalf("bystanders: done %v %v, unwound %v", gen.Done(), raw.Done(), unwound)
		}
	}
}

// TestPanicEndsRun checks the default policy for both styles: the first
// panic stops the run at once, Run returns it with the task, the value and
// the stack of the panicking function, and every other task is ended.
func TestPanicEndsRun(t *testing.T) {
	for _, tc := range []struct {
		style, fn string
		add       func(s *scheduler.Scheduler) *task.Task
		trace     []string
	}{
		{"step", "explodingStep", func(s *scheduler.Scheduler) *task.Task {
			return s.GoStep("bomb", explodingStep)
		}, []string{"gen", "raw"}},
		{"generator", "explodingBody", func(s *scheduler.Scheduler) *task.Task {
			return s.Go("bomb", explodingBody)
		}, []string{"gen", "raw", "after", "gen", "raw"}},
	} {
		t.Run(tc.style, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			s := scheduler.New()
			var tr tasktest.Trace
			checkBystanders := bystanders(s, &tr)
			bomb := tc.add(s)
			s.GoStep("after", func(*task.Task) task.Status {
				tr.Printf("after")
				return task.Yield
			})
			err := s.Run()
			var p *task.PanicError
			if !errors.As(err, &p) {
				t.Fatalf("Run: %v, want a *task.PanicError", err)
			}
			if p.Name != "bomb" || p.ID != bomb.ID() || p.Value != errBoom || !errors.Is(err, errBoom) {
				t.Fatalf("PanicError for %s#%d with value %v", p.Name, p.ID, p.Value)
			}
			if !strings.Contains(string(p.Stack), tc.fn) {
				t.Fatalf("stack does not mention %s:\n%s", tc.fn, p.Stack)
			}
			if !strings.Contains(err.Error(), "bomb#3 panicked: boom") {
				t.Fatalf("Error() = %q", err)
			}
			tr.Check(t, tc.trace...) // nothing ran after the panic
			checkBystanders(t)
			if s.Len() != 0 || !bomb.Done() {
				t.Fatalf("%d tasks left; bomb done %v", s.Len(), bomb.Done())
			}
		})
	}
}

func TestPanicHandler(t *testing.T) {
	defer goleak.VerifyNone(t)
	s := scheduler.New()
	var caught []*task.PanicError
	s.SetPanicHandler(func(p *task.PanicError) { caught = append(caught, p) })
	var tr tasktest.Trace
	s.Go("bomb", explodingBody)
	s.GoStep("step bomb", explodingStep)
	s.Go("survivor", person(&tr, "survivor", 3))
	tasktest.Run(t, s)
	tr.Check(t, "survivor running", "survivor running", "survivor running")
	if len(caught) != 2 || caught[0].Name != "step bomb" || caught[1].Name != "bomb" {
		t.Fatalf("handler saw %v", caught)
	}
}

func TestLogPanics(t *testing.T) {
	s := scheduler.New()
	var buf bytes.Buffer
	s.SetPanicHandler(scheduler.LogPanics(log.New(&buf, "", 0)))
	s.GoStep("bomb", explodingStep)
	tasktest.Run(t, s)
	if out := buf.String(); !strings.Contains(out, "task bomb#1 panicked: boom") || !strings.Contains(out, "explodingStep") {
		t.Fatalf("log: %q", out)
	}
}

func TestPanicNil(t *testing.T) {
	for _, style := range []string{"step", "generator"} {
		t.Run(style, func(t *testing.T) {
			s := scheduler.New()
			if style == "step" {
				s.GoStep("nil", func(*task.Task) task.Status { panic(nil) })
			} else {
				s.Go("nil", func(*task.Task) { panic(nil) })
			}
			var p *task.PanicError
			var pn *runtime.PanicNilError
			if err := s.Run(); !errors.As(err, &p) || !errors.As(err, &pn) || p.Name != "nil" {
				t.Fatalf("Run: %v", err)
			}
		})
	}
}

// grenade is a generator-style task whose deferred call panics, so ending
// it fails.
func grenade(t *task.Task) {
	defer panic("pin pulled")
	for {
		t.Yield()
	}
}

// TestPanicInDeferDuringKill kills a task whose deferred call panics, in
// each of the ways a task is ended.
func TestPanicInDeferDuringKill(t *testing.T) {
	for _, tc := range []struct {
		name string
		kill func(s *scheduler.Scheduler, g *task.Task)
	}{
		{"by another task", func(s *scheduler.Scheduler, g *task.Task) {
			s.Go("killer", func(t *task.Task) { s.Kill(g) })
		}},
		{"at the end of Run", func(s *scheduler.Scheduler, g *task.Task) {
			s.Go("unscheduler", func(t *task.Task) { s.Unschedule(g) })
		}},
		{"before Run", func(s *scheduler.Scheduler, g *task.Task) {
			s.Kill(g) // never started: no deferred call yet
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			s := scheduler.New()
			g := s.Go("grenade", grenade)
			tc.kill(s, g)
			err := s.Run()
			if tc.name == "before Run" {
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				return
			}
			var p *task.PanicError
			if !errors.As(err, &p) || p.Name != "grenade" || p.Value != "pin pulled" || !strings.Contains(string(p.Stack), "grenade") {
				t.Fatalf("Run: %v", err)
			}
			if !g.Done() || s.Len() != 0 {
				t.Fatalf("grenade done %v, %d tasks left", g.Done(), s.Len())
			}
		})
	}
}

// TestSelfKillDeferPanics has a task kill itself while its deferred call
// panics: the panic is reported as the task's.
func TestSelfKillDeferPanics(t *testing.T) {
	defer goleak.VerifyNone(t)
	s := scheduler.New()
	s.Go("grenade", func(t *task.Task) {
		defer panic("pin pulled")
		t.Yield()
		s.Kill(t)
	})
	var p *task.PanicError
	if err := s.Run(); !errors.As(err, &p) || p.Name != "grenade" || p.Value != "pin pulled" {
		t.Fatalf("Run: %v", err)
	}
}

func TestPanicInDeferWithHandler(t *testing.T) {
	defer goleak.VerifyNone(t)
	s := scheduler.New()
	var caught []string
	s.SetPanicHandler(func(p *task.PanicError) { caught = append(caught, p.Name+": "+p.Value.(string)) })
	g := s.Go("grenade", grenade)
	var tr tasktest.Trace
	s.Go("killer", func(t *task.Task) {
		t.Yield()
		s.Kill(g)
		t.Yield()
		tr.Printf("killer goes on")
	})
	tasktest.Run(t, s)
	tr.Check(t, "killer goes on")
	if len(caught) != 1 || caught[0] != "grenade: pin pulled" {
		t.Fatalf("handler saw %q", caught)
	}
}
