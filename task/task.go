// Package task defines lightweight tasks: step functions that a scheduler
// runs one suspension point at a time, and the queues they wait in.
//
// A task is written in one of two styles, which mix freely in one scheduler:
//
//   - A raw step function (NewStep): a state machine the scheduler calls to
//     run the task to its next suspension point. It returns Yield to be
//     called again later or Finish when done. A step allocates nothing.
//
//   - Generator style (New): ordinary procedural Go that calls t.Yield() and
//     blocking helpers such as a utensil's Acquire(t). The function runs on a
//     coroutine (iter.Pull) that the scheduler resumes one step at a time, so
//     only one task ever runs at a time. The essay's "yield from sub()" is a
//     plain call of a helper that takes the same handle t.
//
// This package knows nothing of any particular scheduler: a task reaches the
// one running it through the Scheduler interface.
package task

import (
	"fmt"
	"strconv"
	"time"
)

// Status is what a step reports to the scheduler.
type Status uint8

const (
	Yield  Status = iota // suspended: call the step again when the task is at the head of the ready list
	Finish               // done: the task leaves the scheduler
)

// A Step runs its task to the next suspension point. Before returning Yield
// it may block the task (Scheduler.Block), in which case the step is called
// again once the task has been unblocked.
type Step func(t *Task) Status

// Scheduler is what a task needs from the scheduler that runs it.
// The scheduler package implements it.
type Scheduler interface {
	// Current returns the task whose step is running, or nil.
	Current() *Task
	// Block moves the current task from the ready list to the tail of q.
	Block(q *Queue)
	// Unblock moves the task at the head of q, if any, to the tail of the
	// ready list and returns it.
	Unblock(q *Queue) *Task
	// BlockUntil is Block with a deadline: if the task is still blocked
	// then, it is woken with ErrTimeout. With a nil q the task just sleeps
	// until the deadline and is woken with no error.
	BlockUntil(q *Queue, deadline time.Time)
	// Wake takes t out of whatever it waits in and makes it ready; the
	// wait it was in returns err (nil for a normal wake-up).
	Wake(t *Task, err error)
}

// ErrTimeout is returned by a wait whose deadline passed.
var ErrTimeout error = timeoutError{}

type timeoutError struct{}

func (timeoutError) Error() string { return "task: wait timed out" }

// Timeout reports true, so that callers testing for net.Error-style
// timeouts recognise it.
func (timeoutError) Timeout() bool { return true }

// A Resource is something a task holds exclusively, such as a utensil. The
// task keeps a list of what it holds (Acquired, Released), so that when it
// ends, finished or killed, each resource it still holds is abandoned and
// passes on to its next waiter: a task's end never stalls the others. That
// includes a resource handed to a blocked task that was killed before it
// ever ran again.
type Resource interface {
	// Abandon is called when t ends while holding the resource.
	Abandon(t *Task)
}

// Task is one lightweight task. Create it with New or NewStep and hand it
// to a scheduler; its exported methods are safe to call only from the
// scheduler's goroutine.
type Task struct {
	// What a step reads comes first, to share as few cache lines as can be:
	// with many tasks every line a switch touches is a likely cache miss.
	// The struct is 128 bytes, a size class whose objects start on a cache
	// line; one field more would cost 16 bytes a task and that alignment
	// (docs/benchmarks.md).
	next, prev *Task      // links in queue
	step       Step       // for a generator-style task, its start, then stepCoroutine
	co         *coroutine // a generator-style task's, once started
	queue      *Queue     // the queue t is in, or nil
	sched      Scheduler
	id         uint64
	name       string
	wakeErr    error       // why t was last woken
	deadline   int64       // when a timed wait ends (scheduler's clock); 0 if none
	timerIndex int32       // 1 + index in a Timers heap; 0 if in none
	tableIndex int32       // 1 + index in a Table; 0 if in none
	held       *[]Resource // allocated at the first Acquired: most tasks hold nothing
	done       bool
}

// NewStep returns a task that runs step, a raw step function.
func NewStep(name string, step Step) *Task {
	return &Task{name: name, step: step}
}

// ID returns the number the scheduler gave t, or 0 before it is scheduled.
func (t *Task) ID() uint64 { return t.id }

// Name returns the name t was created with.
func (t *Task) Name() string { return t.name }

// String returns the name and ID, e.g. "Plato#1".
func (t *Task) String() string { return t.name + "#" + strconv.FormatUint(t.id, 10) }

// Scheduler returns the scheduler t belongs to, or nil.
func (t *Task) Scheduler() Scheduler { return t.sched }

// Queue returns the queue t is in (the ready list or a wait queue), or nil.
func (t *Task) Queue() *Queue { return t.queue }

// Done reports whether t has finished or been ended.
func (t *Task) Done() bool { return t.done }

// Bind attaches t to the scheduler s under the given ID. A scheduler calls it
// once, when t is first scheduled; it panics if t belongs to another.
func (t *Task) Bind(s Scheduler, id uint64) {
	if t.sched != nil && t.sched != s {
		panic("task: " + t.String() + " already belongs to another scheduler")
	}
	t.sched, t.id = s, id
}

// Resume runs t's step once. A panic in a generator-style task's body is
// re-raised here as a *PanicError carrying the body's own stack.
func (t *Task) Resume() Status { return t.step(t) }

// Acquired records that t now holds r, to be abandoned if t ends with it.
func (t *Task) Acquired(r Resource) {
	if t.held == nil {
		t.held = new([]Resource)
	}
	*t.held = append(*t.held, r)
}

// Released records that t no longer holds r.
func (t *Task) Released(r Resource) {
	if t.held == nil {
		return
	}
	held := *t.held
	for i, h := range held {
		if h == r {
			last := len(held) - 1
			held[i] = held[last]
			held[last] = nil
			*t.held = held[:last]
			return
		}
	}
}

// Holds reports whether t holds r.
func (t *Task) Holds(r Resource) bool {
	if t.held == nil {
		return false
	}
	for _, h := range *t.held {
		if h == r {
			return true
		}
	}
	return false
}

// SetWakeErr records why t is being woken; the wait it is in returns err.
func (t *Task) SetWakeErr(err error) { t.wakeErr = err }

// TakeWakeErr returns and clears why t was last woken: nil for a normal
// wake-up, or an error such as a timeout or a closed descriptor. Raw step
// functions call it when they resume after blocking.
func (t *Task) TakeWakeErr() error {
	err := t.wakeErr
	t.wakeErr = nil
	return err
}

// End finishes t for good: it leaves whatever queue and timer heap it is in;
// a generator-style task unwinds its body, running its deferred calls, and
// releases its coroutine; then every resource t still holds is abandoned.
// A panic in the deferred calls is returned. When t is the running
// generator-style task, End does not return: the body unwinds from the call
// and the scheduler calls End again when the step returns. Calling End again
// only undoes what deferred calls did: joined a queue, acquired something.
func (t *Task) End(timers *Timers) *PanicError {
	first := !t.done
	t.done = true
	t.leaveQueues(timers)
	var p *PanicError
	if first && t.co != nil {
		if t.sched != nil && t.sched.Current() == t {
			panic(killed{})
		}
		p = t.co.stop()
		t.leaveQueues(timers) // deferred calls may have blocked t again
	}
	for t.held != nil && len(*t.held) > 0 {
		held := *t.held
		r := held[len(held)-1]
		held[len(held)-1] = nil
		*t.held = held[:len(held)-1]
		r.Abandon(t)
	}
	return p
}

func (t *Task) leaveQueues(timers *Timers) {
	if t.queue != nil {
		t.queue.Remove(t)
	}
	if timers != nil {
		timers.Remove(t)
	}
}

// State is where a task is in its life.
type State uint8

const (
	Idle    State = iota // not in the ready list and waiting for nothing: new, or unscheduled
	Ready                // in the ready list
	Running              // its step is running
	Blocked              // in a wait queue, or sleeping until a deadline
	Done                 // finished or ended
)

var stateNames = [...]string{"idle", "ready", "running", "blocked", "done"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// State returns t's state, derived from where it is linked.
func (t *Task) State() State {
	switch {
	case t.done:
		return Done
	case t.sched != nil && t.sched.Current() == t:
		return Running
	case t.queue != nil && t.queue.runnable:
		return Ready
	case t.queue != nil || t.timerIndex != 0:
		return Blocked
	}
	return Idle
}

// WaitingFor describes what a blocked task waits for: its queue's label,
// "sleep" for a bare timer, with " (with deadline)" when a timer also runs.
func (t *Task) WaitingFor() string {
	if t.State() != Blocked {
		return ""
	}
	switch {
	case t.queue == nil:
		return "sleep"
	case t.timerIndex != 0:
		return t.queue.Label + " (with deadline)"
	}
	return t.queue.Label
}

// Info is a snapshot of a task, for task tables and error reports.
type Info struct {
	ID         uint64
	Name       string
	State      State
	WaitingFor string // set when State is Blocked
}

// Info returns a snapshot of t.
func (t *Task) Info() Info {
	return Info{ID: t.id, Name: t.name, State: t.State(), WaitingFor: t.WaitingFor()}
}

func (i Info) String() string {
	s := fmt.Sprintf("%s#%d %s", i.Name, i.ID, i.State)
	if i.WaitingFor != "" {
		s += " on " + i.WaitingFor
	}
	return s
}
