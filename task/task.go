// Package task defines lightweight tasks: step functions that a scheduler
// runs one suspension point at a time, and the wait queues they park in.
//
// A task is written in one of two styles, which mix freely in one scheduler:
//
//   - A raw step function (NewStep): a state machine the scheduler calls to
//     run the task to its next suspension point. It returns Yield to be
//     called again at its next turn, or Finish when done. A step allocates
//     nothing.
//
//   - Generator style (New): ordinary Go that calls t.Yield() and blocking
//     helpers such as t.Wait(q) or a utensil's Acquire(t). The body runs on
//     a coroutine (iter.Pull) that the scheduler resumes one step at a
//     time, so only one task ever runs at a time. The essay's
//     "yield from sub()" is a plain call of a helper that takes the same
//     handle t.
//
// A task runs on a scheduler (package scheduler, or lwtask.Runtime). Its
// methods belong to that scheduler's goroutine, and those that suspend or
// count against the task's turn must be called with the running task: a
// call with any other task panics at once, naming both.
//
// # Building your own waits
//
// A Queue is a labelled FIFO of waiting tasks, the building block of every
// wait in lwtask: a utensil, a descriptor, a channel each have one. Task code
// may use it directly: t.Wait(q) parks the running task in q until another
// task calls q.Unblock() (wake the first) or q.WakeAll(err). A raw step
// uses t.Block(q), returns Yield, and reads t.WaitErr() at its next step.
// A task that takes a resource others may wait for records it with
// Acquired, so that the resource is Abandoned, and passed on, if the task
// ends while holding it.
package task

import (
	"time"
	"unsafe"

	"github.com/lwtask/lwtask/internal/core"
)

// Task is one lightweight task. Create it with New or NewStep and hand it to
// a scheduler. Its state is private to lwtask (package internal/core, on
// whose Task it is defined); its methods are all there is to it.
type Task core.Task

// Status is what a step reports to the scheduler.
type Status uint8

const (
	Yield  Status = 0 // suspended: call the step again at the task's next turn
	Finish Status = 1 // done: the task leaves the scheduler
)

// A Step runs its task to the next suspension point. Before returning Yield
// it may block the task (t.Block), in which case it is called again once
// the task has been woken.
type Step func(t *Task) Status

// Errors of waits; test for them with errors.Is.
var (
	// ErrTimeout is returned by a wait whose deadline passed. It is
	// os.ErrDeadlineExceeded, which is also a net.Error whose Timeout
	// method reports true.
	ErrTimeout = core.ErrTimeout
	// ErrKilled is returned at once by any wait of a task that is being
	// ended: killed, or ended as its scheduler stops. Such a task's
	// deferred calls still run, but cannot wait.
	ErrKilled = core.ErrKilled
	// ErrInterrupted is returned by a wait that a Wake with no error
	// interrupted.
	ErrInterrupted = core.ErrInterrupted
)

// Budget is how many operations that could have waited but did not (reads,
// writes, accepts, channel operations) a task may make in one turn before
// the next such operation yields first. See Checkpoint, and
// internal/core's Budget for why 64.
const Budget = 64

// The values above are core's, written out so that they read as values in
// the documentation; these fail to compile if the two ever differ.
var (
	_ = [1]struct{}{}[Budget-core.Budget]
	_ = [1]struct{}{}[Yield-Status(core.Yield)]
	_ = [1]struct{}{}[Finish-Status(core.Finish)]
	_ = [1]struct{}{}[Ready-State(core.Ready)]
	_ = [1]struct{}{}[Running-State(core.Running)]
	_ = [1]struct{}{}[Blocked-State(core.Blocked)]
	_ = [1]struct{}{}[Done-State(core.Done)]
)

func (t *Task) core() *core.Task { return (*core.Task)(t) }

// NewStep returns a task that runs step, a raw step function.
//
// The scheduler calls steps with a *core.Task, of which a *Task is the same
// pointer under another type (Task is defined on core.Task), and Status is
// core.Status's values: so step, converted once here, is called with no
// wrapper in between, which would cost a third of a raw step's switch.
func NewStep(name string, step Step) *Task {
	return (*Task)(core.NewStep(name, *(*core.Step)(unsafe.Pointer(&step))))
}

// New returns a generator-style task that runs body on a coroutine. Inside
// body, t.Yield() suspends the task until its next turn, and blocking calls
// (t.Wait, t.Sleep, a utensil's Acquire, reads and writes of lwtask's
// descriptors) suspend it while they wait.
//
// The coroutine is made at the first step, so a task ended before it ever
// ran costs no goroutine. A task ended early unwinds body through its
// deferred calls, in which waits fail with ErrKilled. body must not call
// runtime.Goexit, and must not use t from any other goroutine.
func New(name string, body func(t *Task)) *Task {
	return (*Task)(core.New(name, *(*func(*core.Task))(unsafe.Pointer(&body))))
}

// ID returns the number the scheduler gave t, or 0 before it is scheduled.
func (t *Task) ID() uint64 { return t.core().ID() }

// Name returns the name t was created with.
func (t *Task) Name() string { return t.core().Name() }

// String returns the name and ID, e.g. "Plato#1".
func (t *Task) String() string { return t.core().String() }

// Done reports whether t has finished or been ended.
func (t *Task) Done() bool { return t.core().Done() }

// Yield suspends the generator-style task t until its next turn: the other
// ready tasks run first. If t is killed meanwhile, Yield does not return:
// the body unwinds through its deferred calls. While those run, Yield
// returns at once. It panics if t is not the running task, or is a raw step
// task, which returns Yield from its step instead.
func (t *Task) Yield() { t.core().Yield() }

// Sleep suspends t for d, letting the other tasks run. It returns nil after
// the whole of d, or why it ended early: ErrKilled, or the error t was
// woken with.
func (t *Task) Sleep(d time.Duration) error {
	return t.SleepUntil(t.Now().Add(d))
}

// Now returns the time on the clock of t's scheduler, which its deadlines
// are on: the wall clock, or a virtual one (lwtask.WithVirtualClock).
func (t *Task) Now() time.Time { return t.core().Time() }

// SleepUntil suspends t until the deadline; see Sleep.
func (t *Task) SleepUntil(deadline time.Time) error {
	c := t.core()
	if err := c.BeginPark("Sleep"); err != nil {
		return err
	}
	_, err := c.Park(c.Deadline(deadline))
	return err
}

// Wait parks t at the tail of q until it is unblocked (q.Unblock, nil),
// woken with an error (q.WakeAll, Wake), or ended (ErrKilled): the essay's
// block(queue) followed by yield.
func (t *Task) Wait(q *Queue) error { return t.core().Wait("Wait", q.core(), 0) }

// WaitUntil is Wait with a deadline, past which it returns ErrTimeout. The
// zero time means no deadline.
func (t *Task) WaitUntil(q *Queue, deadline time.Time) error {
	c := t.core()
	return c.Wait("WaitUntil", q.core(), c.Deadline(deadline))
}

// Block is Wait for a raw step: it parks the running task t at the tail of
// q, after which the step returns Yield; it is called again once t has been
// woken, and reads WaitErr to learn why. If t may not wait (it is being
// ended), Block returns the error instead and t stays ready.
func (t *Task) Block(q *Queue) error {
	if q == nil {
		panic("task: Block with a nil queue would wait forever")
	}
	return t.core().Block("Block", q.core(), 0)
}

// BlockUntil is Block with a deadline, past which the wait ends with
// ErrTimeout. The zero time means no deadline. With a nil q, t sleeps until
// the deadline, and its wait ends with no error: a raw step's Sleep.
func (t *Task) BlockUntil(q *Queue, deadline time.Time) error {
	c := t.core()
	return c.Block("BlockUntil", q.core(), c.Deadline(deadline))
}

// WaitErr returns and clears why t's last wait ended: nil when it was
// unblocked in turn, or an error such as ErrTimeout. A raw step calls it
// when it runs again after Block.
func (t *Task) WaitErr() error {
	_, err := t.core().Result()
	return err
}

// Wake ends t's wait, wherever it waits, and makes it ready: the wait
// returns err, or ErrInterrupted if err is nil. It reports whether t was
// waiting.
func (t *Task) Wake(err error) bool { return t.core().Wake(err) }

// Checkpoint counts one operation of the generator-style task t against its
// turn, and once the turn's Budget is spent it yields first. Operations
// that could wait but did not call it, so that a task whose reads always
// find data still lets the others run; lwtask's own operations do. It
// returns t's cancellation, if t has been cancelled (see Cancel), which
// the operation should return instead of going on. It panics if t is not
// the running task.
func (t *Task) Checkpoint() error { return t.core().Checkpoint("Checkpoint") }

// Spend is Checkpoint for a raw step: it counts one operation and reports
// whether t's turn had room for it. When it reports false, the step does
// not do the operation: it returns Yield, and tries again at its next turn.
func (t *Task) Spend() bool { return t.core().Spend("Spend") }

// A Resource is something a task holds exclusively, such as a utensil. A
// task keeps a list of what it holds (Acquired, Released), so that when it
// ends, finished or killed, each resource it still holds is abandoned and
// passes on: a task's end never stalls the others. That includes a
// resource handed to a waiting task that is killed before it runs again.
type Resource interface {
	// Abandon is called when t ends while holding the resource.
	Abandon(t *Task)
}

// Acquired records that t now holds r, to be abandoned if t ends with it.
func (t *Task) Acquired(r Resource) { t.core().Acquired(r) }

// Released records that t no longer holds r.
func (t *Task) Released(r Resource) { t.core().Released(r) }

// Holds reports whether t holds r.
func (t *Task) Holds(r Resource) bool { return t.core().Holds(r) }
