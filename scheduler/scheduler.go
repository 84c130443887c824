// Package scheduler runs tasks round robin on one goroutine: the essay's
// ready list with schedule, run, expire_timeslice and unschedule, each
// O(1), plus timers, an event source for the outside world, deadlock and
// panic reports, and a task table.
//
// The head of the ready list runs until its next suspension point. If it is
// still at the head afterwards it moves to the tail; a finished task leaves.
// A task that waits (t.Wait(q), the essay's block) leaves the ready list for
// a wait queue, and q.Unblock() (the essay's unblock) moves the head of the
// queue to the tail of the ready list.
//
// A Scheduler and its tasks belong to the goroutine that calls Run. Only
// Post and Stop may be called from other goroutines.
package scheduler

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"log"
	"slices"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/lwtask/lwtask/internal/core"
	"github.com/lwtask/lwtask/task"
)

// ErrRunning is returned by Run when the scheduler is already running.
var ErrRunning = errors.New("scheduler: Run called while already running")

// ErrStopped is returned by Post once the scheduler has been stopped.
var ErrStopped = errors.New("scheduler: stopped")

// Scheduler is a round-robin scheduler of tasks. The zero value is not
// usable; call New.
type Scheduler struct {
	core    core.Sched
	events  EventSource
	onPanic func(*task.PanicError)
	failure error // what ends Run: a panic under the default policy, or the event source's error
	running bool
	holds   int // outstanding Holds: work promised from outside

	// Posted work, which Run takes a whole list at a time.
	mu     sync.Mutex // guards posted
	posted []func()
	spare  []func() // the list Run took last time, to post into next

	stopping atomic.Bool // Stop was called
	halt     atomic.Bool // no task may run: Stop, or a failure that ends Run

	// Counters of the loop's own, besides the core's (see Metrics).
	ready      readyCounter // the event source's count of ready descriptors, if it keeps one
	turns      uint64
	stepPanic  any // a raw step's panic while recovered ends its task: see recordEnd
	polls      uint64
	pollEvents uint64
	posts      uint64
	idle       time.Duration
	published  published
}

// An Option configures a Scheduler.
type Option func(*Scheduler)

// WithEventSource makes the scheduler wait on es when no task is ready:
// the seam where descriptor polling plugs in (package fdqueue). Without
// it, the scheduler waits only for its timers, Post and Stop.
func WithEventSource(es EventSource) Option { return func(s *Scheduler) { s.events = es } }

// New returns a scheduler with no tasks.
func New(opts ...Option) *Scheduler {
	s := &Scheduler{events: newIdleWaiter()}
	s.core.Init()
	s.core.SetRetire(func(t *core.Task) { s.retire(t, core.Yield) })
	for _, o := range opts {
		o(s)
	}
	_, idle := s.events.(*idleWaiter)
	switch {
	case idle: // never has a task parked
	case core.Attach(s.events, &s.core):
		// fdqueue's: it refuses tasks of other schedulers, and tallies its
		// parked tasks where the run loop reads them (core.Sched.Parked).
	default:
		// A source of the program's own: RunSteps cannot see whether
		// tasks wait on it, so the loop polls it between every two turns,
		// as EventSource promises.
		s.core.PollEveryTurn()
	}
	s.ready, _ = s.events.(readyCounter)
	return s
}

// Schedule adds t to the tail of the ready list: the essay's schedule. A
// new task joins the scheduler here and is given its ID. Scheduling a
// ready task does nothing. It panics if t is blocked, has finished or
// belongs to another scheduler.
func (s *Scheduler) Schedule(t *task.Task) {
	if why := s.core.Schedule((*core.Task)(t)); why != "" {
		panic("scheduler: Schedule of " + t.String() + ": " + why)
	}
}

// Go schedules a new generator-style task running body and returns it.
func (s *Scheduler) Go(name string, body func(t *task.Task)) *task.Task {
	t := task.New(name, body)
	s.Schedule(t)
	return t
}

// GoStep schedules a new task running the raw step function step.
func (s *Scheduler) GoStep(name string, step task.Step) *task.Task {
	t := task.NewStep(name, step)
	s.Schedule(t)
	return t
}

// Unschedule takes t out of the ready list: the essay's unschedule. The task
// stays alive but idle until it is scheduled again; when Run returns, idle
// tasks are ended like every other.
func (s *Scheduler) Unschedule(t *task.Task) { s.core.Unschedule((*core.Task)(t)) }

// ExpireTimeslice moves t to the tail of the ready list if it is at the
// head: the essay's expire_timeslice, which Run applies after every step.
func (s *Scheduler) ExpireTimeslice(t *task.Task) { s.core.ExpireTimeslice((*core.Task)(t)) }

// Current returns the running task, or nil between steps.
func (s *Scheduler) Current() *task.Task { return (*task.Task)(s.core.Current()) }

// Owns reports whether t has been scheduled by s.
func (s *Scheduler) Owns(t *task.Task) bool { return (*core.Task)(t).Sched() == &s.core }

// Len returns the number of live tasks: ready, blocked or idle.
func (s *Scheduler) Len() int { return s.core.Len() }

// Kill ends t wherever it is: ready, blocked, sleeping or idle. A
// generator-style task unwinds through its deferred calls, in which waits
// fail with task.ErrKilled at once; then whatever it still holds passes on
// (task.Resource). A task killing itself does not return from Kill if it is
// generator-style; a raw step should return at once, and is ended when it
// does. A task whose code is suspended in a Kill of its own is ended at its
// next suspension point. A panic in deferred calls is reported like any
// task panic.
func (s *Scheduler) Kill(t *task.Task) {
	c := (*core.Task)(t)
	if owner := c.Sched(); owner != nil && owner != &s.core {
		panic("scheduler: Kill of " + t.String() + ", which belongs to another scheduler")
	}
	s.retire(c, core.Yield)
}

// retire removes t from the scheduler, its step having returned status: it
// finished, or (Yield) it is being killed. What it still holds is abandoned,
// and a panic of its body or deferred calls is reported.
func (s *Scheduler) retire(t *core.Task, status core.Status) {
	var p *core.Panic
	if status == core.Finish {
		p = t.TakeFault()
		s.core.Finish(t)
	} else {
		p = s.core.End(t)
	}
	if !t.Done() {
		return // killed while its code is on the stack: it ends later
	}
	if source := s.recordEnd(t, status, p); source != "" {
		defer s.core.SetSource(source)
	}
	for r := t.TakeHeld(); r != nil; r = t.TakeHeld() {
		r.(task.Resource).Abandon((*task.Task)(t))
	}
	if h := t.EndHook(); h != nil {
		h.TaskEnded(t, p) // a group's child: its panic is the group's error
	} else if p != nil {
		s.fail(&task.PanicError{ID: t.ID(), Name: t.Name(), Value: p.Value, Stack: p.Stack})
	}
}

// SetPanicHandler sets what happens when a task panics. By default (nil)
// the panic ends Run: every other task is ended and Run returns the
// *task.PanicError. With a handler, the panicking task alone is ended, the
// handler is called on the scheduler's goroutine and the others go on: the
// policy a server wants (see LogPanics).
func (s *Scheduler) SetPanicHandler(h func(*task.PanicError)) { s.onPanic = h }

// LogPanics returns a panic handler for SetPanicHandler that logs each panic,
// with its stack, to l and lets the other tasks go on.
func LogPanics(l *log.Logger) func(*task.PanicError) {
	return func(p *task.PanicError) { l.Print(p) }
}

// fail applies the panic policy to p.
func (s *Scheduler) fail(p *task.PanicError) {
	if s.onPanic != nil {
		s.onPanic(p)
		return
	}
	s.setFailure(p)
}

// setFailure records what ends Run, unless something already does.
func (s *Scheduler) setFailure(err error) {
	if s.failure == nil {
		s.failure = err
		s.halt.Store(true)
	}
}

// Tasks returns a snapshot of the task table, ordered by ID.
func (s *Scheduler) Tasks() []task.Info {
	var infos []task.Info
	s.core.Tasks(func(t *core.Task) { infos = append(infos, (*task.Task)(t).Info()) })
	slices.SortFunc(infos, func(a, b task.Info) int { return cmp.Compare(a.ID, b.ID) })
	return infos
}

// DumpTasks writes the task table to w, one task a line: ID, name, state,
// what a blocked task waits for and how long it has (to the loop's turn).
// Call it on the scheduler's goroutine; Dump is for any other.
func (s *Scheduler) DumpTasks(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSTATE\tWAITING FOR\tWAITED")
	for _, info := range s.Tasks() {
		waited := ""
		if info.State == task.Blocked {
			waited = info.Waited.Round(time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", info.ID, info.Name, info.State, info.WaitingFor, waited)
	}
	return tw.Flush()
}

// ErrBusy is Dump's error when the scheduler took no turn in time: a task
// that never yields holds the loop, or Run is not running.
var ErrBusy = errors.New("scheduler: no turn taken in time")

// Dump writes the task table to w as DumpTasks does, from any goroutine
// but the scheduler's own: it posts the work and waits up to timeout for
// the loop to do it between two steps, returning ErrBusy if it does not.
// The table is written to a buffer on the loop and copied to w here, so a
// slow w holds up nothing.
func (s *Scheduler) Dump(w io.Writer, timeout time.Duration) error {
	done := make(chan []byte, 1)
	err := s.Post(func() {
		var b bytes.Buffer
		s.DumpTasks(&b)
		done <- b.Bytes()
	})
	if err != nil {
		return err
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case table := <-done:
		_, err := w.Write(table)
		return err
	case <-timer.C:
		return fmt.Errorf("%w: the task table was asked for %v ago", ErrBusy, timeout)
	}
}
