// Package core is the machinery under lwtask's public packages: tasks and
// how they run, the waiters that park them in queues, the one blocking
// primitive every wait goes through, the ready list, timers and the task
// table.
//
// It exists so that the public packages can share this state without
// showing it to users. task.Task, task.Queue and scheduler.Scheduler are
// defined on core's types, so converting between a public and a core
// pointer costs nothing ((*core.Task)(t)), while users see only the methods
// the public types declare. Only lwtask's own packages import core.
package core

import (
	"errors"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/lwtask/lwtask/timeline"
)

// Status is what a step reports: task.Status has the same values.
type Status uint8

const (
	Yield  Status = iota // suspended: call the step again at the task's next turn
	Finish               // done: the task leaves the scheduler
)

// Step runs a task to its next suspension point.
type Step func(t *Task) Status

// Errors of waits. ErrTimeout is the standard library's own deadline error,
// so that a timed-out wait satisfies errors.Is(err, os.ErrDeadlineExceeded)
// and reads as a net.Error whose Timeout() is true.
var (
	ErrTimeout = os.ErrDeadlineExceeded
	ErrKilled  = errors.New("task killed")
	// ErrAgain is task.ErrAgain: what CheckpointStep returns when the
	// turn is spent.
	ErrAgain       = errors.New("operation would suspend the task: return Yield and try again")
	ErrInterrupted = errors.New("wait interrupted")
)

// Task flags. A task's place in the ready list and in wait queues is in its
// links; the flags say what the links cannot.
const (
	blocked  uint8 = 1 << iota // suspended in a wait: its waiters are in queues, or its timer runs, or both
	shielded                   // in a wait that cancellation does not end (a group joining its children)
	scoped                     // in a cancel scope: operations check for cancellation
	ending                     // being ended: its waits fail with ErrKilled at once and Yield returns at once
	doomed                     // killed while its code was on the stack: it ends at its next suspension point, or when its step returns
	done                       // finished or ended
)

// Task is one lightweight task.
type Task struct {
	// What a switch touches comes first. The struct is 128 bytes, a size
	// class whose objects start on a cache line; with many tasks, every
	// line a switch touches is a likely cache miss.
	next, prev *Task                   // links in the ready list; nil when not in it
	resume     func() (struct{}, bool) // a started generator's coroutine: iter.Pull's next
	step       Step                    // a raw step; a generator's start until it has started
	s          *Sched
	flags      uint8
	yield      func(struct{}) bool // a started generator's coroutine: its yield
	stop       func()              // a started generator's coroutine: iter.Pull's stop
	w          *wait               // the task's waiters; made at its first wait
	deadline   int64               // when a timed wait ends, on its scheduler's clock; 0 if none
	timerIndex int32               // 1 + index in the timer heap; 0 if in none
	tableIndex int32               // 1 + index in the task table; 0 if in none
	id         uint64
	name       string
	x          *extra // rarely used state
}

// extra is what few tasks need, kept out of Task to keep it small.
type extra struct {
	fault *Panic // a panic of a generator body, recovered on its coroutine
	held  []any  // the resources the task holds (task.Resource), abandoned when it ends
	// unseen: what of held was handed to the task while the scheduler
	// shut down, which a recording does not show (see Sched.SetClosing).
	unseen []any
	scope  *Scope  // the innermost scope the task is in, if any
	root   *Scope  // the task's own outermost scope, made on demand
	group  *Scope  // the scope of the group it was started in, if any
	onEnd  EndHook // told when the task ends, instead of the panic policy
}

// An EndHook is told when a task ends, with the panic of its body or its
// deferred calls, if any, which it then handles instead of the scheduler's
// panic policy: a task group's.
type EndHook interface {
	TaskEnded(t *Task, p *Panic)
}

// SetEndHook makes h the hook of t's end.
func (t *Task) SetEndHook(h EndHook) { t.extra().onEnd = h }

// EndHook returns t's end hook, or nil.
func (t *Task) EndHook() EndHook {
	if t.x == nil {
		return nil
	}
	return t.x.onEnd
}

func (t *Task) extra() *extra {
	if t.x == nil {
		t.x = new(extra)
	}
	return t.x
}

// NewStep returns a task that runs step, a raw step function.
func NewStep(name string, step Step) *Task {
	return &Task{name: name, s: &unscheduled, step: step, yield: rawYield}
}

// unscheduled is the scheduler of every task not yet scheduled. It never
// has a running task, so every operation that needs its task to be the
// running one refuses such a task, with no nil check on the way.
var unscheduled Sched

// ID returns the number the scheduler gave t, or 0 before it is scheduled.
func (t *Task) ID() uint64 { return t.id }

// Name returns the name t was created with.
func (t *Task) Name() string { return t.name }

// String returns the name and ID, e.g. "Plato#1".
func (t *Task) String() string {
	if t == nil {
		return "<nil>"
	}
	return t.name + "#" + strconv.FormatUint(t.id, 10)
}

// Sched returns the scheduler t belongs to, or nil before it is scheduled.
func (t *Task) Sched() *Sched {
	if t.s == &unscheduled {
		return nil
	}
	return t.s
}

// Time returns the time on t's scheduler's clock (Sched.Time), or the wall
// clock's if t is not scheduled yet.
func (t *Task) Time() time.Time {
	if t.s == &unscheduled {
		return time.Now()
	}
	return t.s.Time()
}

// Deadline converts a time to t's scheduler's clock; see Sched.Deadline.
func (t *Task) Deadline(d time.Time) int64 { return t.s.Deadline(d) }

// Done reports whether t has finished or been ended.
func (t *Task) Done() bool { return t.flags&done != 0 }

// State is where a task is in its life; task.State has the same values.
type State uint8

const (
	Idle    State = iota // not in the ready list and waiting for nothing: new, or unscheduled
	Ready                // in the ready list
	Running              // its code is running
	Blocked              // waiting in queues, or sleeping until a deadline
	Done                 // finished or ended
)

// State returns t's state.
func (t *Task) State() State {
	switch {
	case t.flags&done != 0:
		return Done
	case t.s.current == t:
		return Running
	case t.next != nil:
		return Ready
	case t.flags&blocked != 0:
		return Blocked
	}
	return Idle
}

// WaitingFor describes what a blocked task waits for: the labels of its
// queues, "sleep" for a bare timer, with " (with deadline)" when a timer
// also runs.
func (t *Task) WaitingFor() string {
	if t.State() != Blocked {
		return ""
	}
	return t.waitLabel()
}

// waitLabel describes t's wait, which it is making or has made: see
// WaitingFor.
func (t *Task) waitLabel() string {
	var s string
	if t.w != nil && t.w.first != nil {
		s = t.w.first.q.label()
		for _, w := range t.w.more {
			s += " or " + w.q.label()
		}
	}
	switch {
	case s == "" && t.timerIndex == 0:
		return "nothing (an empty select)"
	case s == "":
		return "sleep"
	case t.timerIndex != 0:
		return s + " (with deadline)"
	}
	return s
}

// Acquired records that t now holds r, to be handed back by Held when t
// ends with it.
func (t *Task) Acquired(r any) {
	x := t.extra()
	x.held = append(x.held, r)
	switch {
	case t.s.sink == nil:
	case t.s.closing:
		x.unseen = append(x.unseen, r)
	default:
		t.s.recordHolding(timeline.Acquire, t, r)
	}
}

// Released records that t no longer holds r.
func (t *Task) Released(r any) {
	if t.x == nil {
		return
	}
	held := t.x.held
	for i, h := range held {
		if h == r {
			last := len(held) - 1
			held[i] = held[last]
			held[last] = nil
			t.x.held = held[:last]
			t.recordRelease(r)
			return
		}
	}
}

// Holds reports whether t holds r.
func (t *Task) Holds(r any) bool {
	if t.x == nil {
		return false
	}
	for _, h := range t.x.held {
		if h == r {
			return true
		}
	}
	return false
}

// TakeHeld returns one resource t still holds, forgetting it, or nil.
// The scheduler abandons them one by one when t ends: abandoning one may
// make t acquire nothing more, but it may release others.
func (t *Task) TakeHeld() any {
	if t.x == nil || len(t.x.held) == 0 {
		return nil
	}
	held := t.x.held
	r := held[len(held)-1]
	held[len(held)-1] = nil
	t.x.held = held[:len(held)-1]
	t.recordRelease(r)
	return r
}

// recordRelease records that t gave up r, unless t was handed r while the
// scheduler shut down: that hold was never recorded.
func (t *Task) recordRelease(r any) {
	if t.s.sink == nil {
		return
	}
	if i := slices.Index(t.x.unseen, r); i >= 0 {
		t.x.unseen = slices.Delete(t.x.unseen, i, i+1)
		return
	}
	t.s.recordHolding(timeline.Release, t, r)
}

// notRunning panics for an operation on t, which is not the running task.
// The message names both tasks: the bug is in whichever code passed t.
func (t *Task) notRunning(op string) {
	running := "no task is running"
	if t.s.current != nil {
		running = t.s.current.String() + " is running"
	}
	panic(&MisuseError{Op: op, Task: t.String(), Detail: running})
}

// MisuseError is the panic of an operation called with a task that may not
// make it: not the running task, or a task of another scheduler.
type MisuseError struct {
	Op     string // e.g. "Read", "Yield"
	Task   string // the task it was called with
	Detail string // e.g. "Plato#1 is running"
}

func (e *MisuseError) Error() string {
	return "lwtask: " + e.Op + " called with " + e.Task + ", but " + e.Detail
}

// CheckRunning panics unless t is the running task of its scheduler.
func (t *Task) CheckRunning(op string) {
	if t.s.current != t {
		t.notRunning(op)
	}
}
