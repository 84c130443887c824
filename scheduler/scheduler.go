// Package scheduler runs tasks round robin on one goroutine: the essay's
// ready list with schedule, run, expire_timeslice, unschedule, block and
// unblock, each O(1), plus timers, an event source for the outside world,
// deadlock and panic reports, and a task table.
//
// The head of the ready list runs until its next suspension point. If it is
// still at the head afterwards it moves to the tail; a finished task leaves;
// Block moves the running task to the tail of a wait queue and Unblock moves
// a wait queue's head to the tail of the ready list.
//
// A Scheduler and its tasks belong to the goroutine that calls Run. Only
// Post and Stop may be called from other goroutines.
package scheduler

import (
	"errors"
	"fmt"
	"io"
	"log"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/lwtask/lwtask/task"
)

// ErrRunning is returned by Run when the scheduler is already running.
var ErrRunning = errors.New("scheduler: Run called while already running")

// ErrStopped is returned by Post once Run has been stopped.
var ErrStopped = errors.New("scheduler: stopped")

// Scheduler is a round-robin scheduler of tasks. The zero value is not
// usable; call New.
type Scheduler struct {
	ready   task.Queue
	current *task.Task
	halt    bool // leave the run loop at the next step: Stop, or a panic under the default policy

	tasks    task.Table
	timers   task.Timers
	lastID   uint64
	epoch    time.Time
	events   EventSource
	onPanic  func(*task.PanicError)
	failure  *task.PanicError // the panic that ends Run under the default policy
	eventErr error            // the event source's failure, which ends Run
	running  bool
	holds    int // outstanding Holds: work promised from outside

	// Shared with other goroutines.
	mu       sync.Mutex
	posted   []func()
	spare    []func() // the other buffer for posted functions, to avoid reallocating
	hasPosts atomic.Bool
	stopping atomic.Bool
}

// New returns a scheduler with no tasks, whose only event source is its own
// timers and wake-ups from Post and Stop.
func New() *Scheduler {
	s := &Scheduler{ready: task.ReadyList(), epoch: time.Now()}
	s.events = newIdleWaiter()
	return s
}

// SetEventSource makes the scheduler wait on es when no task is ready, the
// seam where descriptor polling plugs in. Call it before Run.
func (s *Scheduler) SetEventSource(es EventSource) { s.events = es }

// Current returns the task whose step is running, or nil.
func (s *Scheduler) Current() *task.Task { return s.current }

// Len returns the number of live tasks: ready, blocked or unscheduled.
func (s *Scheduler) Len() int { return s.tasks.Len() }

// Schedule adds t to the tail of the ready list: the essay's schedule. A new
// task is given its ID here. Scheduling a ready task does nothing; a blocked
// or finished one cannot be scheduled.
func (s *Scheduler) Schedule(t *task.Task) {
	switch {
	case t.Done():
		panic("scheduler: Schedule of finished task " + t.String())
	case t.Queue() == &s.ready:
		return
	case t.State() == task.Blocked:
		// A sleeper is in no queue, so PushBack would not catch it, and
		// its timer would later push it onto the ready list a second time.
		panic("scheduler: Schedule of blocked task " + t.String() + ", waiting for " + t.WaitingFor())
	}
	if t.ID() == 0 {
		s.lastID++
		t.Bind(s, s.lastID)
	} else {
		t.Bind(s, t.ID())
	}
	s.tasks.Add(t)
	s.ready.PushBack(t)
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

// ExpireTimeslice moves t to the tail of the ready list if it is at the
// head: the essay's expire_timeslice, which Run applies after every step.
func (s *Scheduler) ExpireTimeslice(t *task.Task) {
	if s.ready.Front() == t {
		s.ready.Rotate()
	}
}

// Unschedule takes t out of the ready list: the essay's unschedule. The task
// stays alive but idle until it is scheduled again; when Run returns, idle
// tasks are ended like every other.
func (s *Scheduler) Unschedule(t *task.Task) { s.ready.Remove(t) }

// Block moves the current task from the ready list to the tail of q. The
// task's step should then return task.Yield; it is called again once the
// task is unblocked. Generator-style tasks call t.Wait(q) instead.
func (s *Scheduler) Block(q *task.Queue) {
	t := s.mustCurrent("Block")
	s.ready.Remove(t)
	q.PushBack(t)
}

// BlockUntil is Block with a deadline; see task.Scheduler.
func (s *Scheduler) BlockUntil(q *task.Queue, deadline time.Time) {
	t := s.mustCurrent("BlockUntil")
	s.ready.Remove(t)
	if q != nil {
		q.PushBack(t)
	}
	s.timers.Add(t, max(1, int64(deadline.Sub(s.epoch))))
}

// Unblock moves the task at the head of q, if any, to the tail of the ready
// list and returns it.
func (s *Scheduler) Unblock(q *task.Queue) *task.Task {
	t := q.PopFront()
	if t != nil {
		s.timers.Remove(t)
		s.ready.PushBack(t)
	}
	return t
}

// Wake makes the blocked task t ready, taking it out of its wait queue and
// timer, and makes its wait return err. It does nothing unless t is blocked
// or, being the running task, has just blocked itself in its current step.
func (s *Scheduler) Wake(t *task.Task, err error) {
	q := t.Queue()
	if t.Done() || q == &s.ready || (q == nil && t.Deadline() == 0) {
		return
	}
	if q != nil {
		q.Remove(t)
	}
	s.timers.Remove(t)
	t.SetWakeErr(err)
	s.ready.PushBack(t)
}

// Kill ends t wherever it is: it leaves the ready list or its wait queue, a
// utensil it had been handed but not taken up passes to the next waiter,
// and a generator-style task unwinds through its deferred calls. A task
// killing itself does not return from Kill if it is generator-style; a raw
// step should return at once. A panic in deferred calls is reported like any
// task panic.
func (s *Scheduler) Kill(t *task.Task) {
	if t.Done() {
		return
	}
	if owner := t.Scheduler(); owner != nil && owner != task.Scheduler(s) {
		panic("scheduler: Kill of " + t.String() + ", which belongs to another scheduler")
	}
	s.tasks.Remove(t)
	if p := t.End(&s.timers); p != nil {
		s.fail(p)
	}
}

// SetPanicHandler sets what happens when a task panics. By default (nil)
// the panic ends Run: every other task is ended and Run returns the
// *task.PanicError. With a handler, the panicking task alone is ended, the
// handler is called on the scheduler's goroutine and the others go on: the
// policy a server wants (see LogPanics).
func (s *Scheduler) SetPanicHandler(h func(*task.PanicError)) { s.onPanic = h }

// Tasks returns a snapshot of the task table, ordered by ID.
func (s *Scheduler) Tasks() []task.Info { return s.tasks.Infos() }

func (s *Scheduler) mustCurrent(op string) *task.Task {
	if s.current == nil {
		panic("scheduler: " + op + " called outside a running task")
	}
	return s.current
}

// now returns the scheduler's monotonic clock, in nanoseconds.
func (s *Scheduler) now() int64 { return int64(time.Since(s.epoch)) }

// LogPanics returns a panic handler for SetPanicHandler that logs each panic,
// with its stack, to l and lets the other tasks go on.
func LogPanics(l *log.Logger) func(*task.PanicError) {
	return func(p *task.PanicError) { l.Print(p) }
}

// DumpTasks writes the task table to w, one task a line: ID, name, state and
// what a blocked task waits for. It is meant for debugging a live program,
// e.g. from a posted function or a signal handler's Post.
func (s *Scheduler) DumpTasks(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSTATE\tWAITING FOR")
	for _, info := range s.Tasks() {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", info.ID, info.Name, info.State, info.WaitingFor)
	}
	return tw.Flush()
}
