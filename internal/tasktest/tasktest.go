// Package tasktest holds the helpers that the tests of the task, scheduler
// and utensil packages, and the root package's, share: a Trace that tasks
// write lines to; Run, which fails the test on any error, and RunBounded,
// a watchdog against hangs; Must and MustPanic, which tasks may call; and
// PostConcurrently, for storms of work posted from other goroutines.
//
// It is for tests only. Helpers that tasks call never use t.Fatal, which
// would call runtime.Goexit on a task's coroutine: they panic, which Run
// reports with the task's name, or report with t.Errorf.
package tasktest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lwtask/lwtask/scheduler"
	"github.com/lwtask/lwtask/task"
)

// Trace collects the lines that tasks write, for a test to compare with
// the order it expects.
type Trace []string

// Printf appends a line to the trace.
func (tr *Trace) Printf(format string, args ...any) {
	*tr = append(*tr, fmt.Sprintf(format, args...))
}

// Check fails the test at once unless the trace is exactly want. Call it
// on the test's goroutine, once Run has returned.
func (tr Trace) Check(t testing.TB, want ...string) {
	t.Helper()
	if !slices.Equal(tr, want) {
		t.Fatalf("trace:\n\t%s\nwant:\n\t%s", strings.Join(tr, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// Run runs s and fails the test at once if Run returns an error or leaves
// a task behind.
func Run(t testing.TB, s *scheduler.Scheduler) {
	t.Helper()
	if err := s.Run(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if s.Len() != 0 {
		t.Fatalf("%d tasks left after Run", s.Len())
	}
}

// ErrHung is what RunBounded returns when its watchdog had to stop Run.
var ErrHung = errors.New("run hung: stopped by the watchdog")

// RunBounded runs r, a *scheduler.Scheduler or an *lwtask.Runtime, under a
// watchdog that stops it after limit, so that a test of a Run that must
// end fails instead of hanging. It returns Run's error, joined with
// ErrHung if the watchdog stopped it. Make limit generous: it bounds a
// hang, it does not time anything.
func RunBounded(r interface {
	Run() error
	Stop()
}, limit time.Duration) error {
	var fired atomic.Bool
	watchdog := time.AfterFunc(limit, func() {
		fired.Store(true)
		r.Stop()
	})
	err := r.Run()
	watchdog.Stop()
	if fired.Load() {
		return errors.Join(ErrHung, err)
	}
	return err
}

// Must panics with err unless it is nil. Inside a task's body the panic
// makes Run fail with the error, the task's name and the stack.
func Must(err error) {
	if err != nil {
		panic(err)
	}
}

// MustPanic calls f, which must panic with a value whose printed form
// contains want, and returns that form. Otherwise it fails the test with
// t.Errorf, so it may be called from a task's body as well as from the
// test's own goroutine.
func MustPanic(t testing.TB, want string, f func()) (msg string) {
	t.Helper()
	panicked := true
	defer func() {
		t.Helper()
		r := recover()
		switch {
		case !panicked && r == nil:
			t.Errorf("no panic, want one mentioning %q", want)
		default:
			msg = fmt.Sprint(r)
			if !strings.Contains(msg, want) {
				t.Errorf("panic %q, want one mentioning %q", msg, want)
			}
		}
	}()
	f()
	panicked = false
	return ""
}

// PostConcurrently starts n goroutines that, once start is closed, each
// post m functions with post (a Scheduler's or a Runtime's Post), one
// after the other: the jth of goroutine g calls f(g, j). The returned wait
// waits for the goroutines to finish and returns what post refused, if
// anything; a goroutine stops posting at its first refusal.
func PostConcurrently(n, m int, start <-chan struct{}, post func(func()) error, f func(g, j int)) (wait func() error) {
	var wg sync.WaitGroup
	errs := make([]error, n)
	for g := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for j := range m {
				if err := post(func() { f(g, j) }); err != nil {
					errs[g] = fmt.Errorf("goroutine %d, function %d: %w", g, j, err)
					return
				}
			}
		}()
	}
	return func() error {
		wg.Wait()
		return errors.Join(errs...)
	}
}

// Sequence returns, in order, the numbers from 0 to n-1 for which keep
// reports true: what a test expects of a sequence with some left out.
func Sequence(n int, keep func(int) bool) []int {
	var seq []int
	for i := range n {
		if keep(i) {
			seq = append(seq, i)
		}
	}
	return seq
}

// UntilBlocked yields tk until each of xs (nil entries skipped) is
// blocked. It reports false, having failed the test, if one ended first.
func UntilBlocked(t testing.TB, tk *task.Task, xs ...*task.Task) bool {
	t.Helper()
	for _, x := range xs {
		for x != nil && x.State() != task.Blocked {
			if x.Done() {
				t.Errorf("%v ended before it blocked", x)
				return false
			}
			tk.Yield()
		}
	}
	return true
}

// StopWhen calls s.Stop from another goroutine once ready is closed, as a
// program's signal handler would; the function it returns lets the
// goroutine go if ready never closes (the test failed first). Call it once
// Run has returned.
func StopWhen(s interface{ Stop() }, ready <-chan struct{}) (release func()) {
	done := make(chan struct{})
	go func() {
		select {
		case <-ready:
			s.Stop()
		case <-done:
		}
	}()
	return func() { close(done) }
}
