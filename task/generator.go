package task

import (
	"fmt"
	"iter"
	"runtime/debug"
	"time"
)

// New returns a generator-style task that runs body on a coroutine.
// Inside body, t.Yield() suspends the task until the scheduler resumes it,
// and blocking helpers (t.Wait, a utensil's Acquire) yield while they wait.
//
// The coroutine is started at the first step, so a task ended before it ever
// ran costs no goroutine. Ending it early unwinds body through its deferred
// calls; body must not call runtime.Goexit, and must not call t's methods
// from any goroutine but its own.
func New(name string, body func(t *Task)) *Task {
	return &Task{name: name, step: func(t *Task) Status { return t.start(body) }}
}

// coroutine adapts a procedural body into a step function with iter.Pull:
// each call of next runs the body until it yields, the suspension point.
type coroutine struct {
	next   func() (struct{}, bool)
	yield  func(struct{}) bool
	cancel func()
	fault  *PanicError // a panic recovered from body
}

// killed is the panic that unwinds a body whose task was ended while it
// was suspended; run recovers it.
type killed struct{}

// stepCoroutine is the step of every generator-style task. It is a plain
// function, not a method value bound to the coroutine, because every call
// level between the scheduler and the coroutine switch costs a mispredicted
// return each time control comes back from the coroutine's stack, about as
// much as the rest of the scheduler's work per step.
func stepCoroutine(t *Task) Status {
	if _, ok := t.co.next(); ok {
		return Yield
	}
	return t.co.finish()
}

// start is the first step of a generator-style task: it gives t its
// coroutine, which until then t has not got, so that Yield's one test for a
// nil coroutine catches both a raw step task and one not yet running.
func (t *Task) start(body func(*Task)) Status {
	c := new(coroutine)
	c.next, c.cancel = iter.Pull(func(yield func(struct{}) bool) {
		c.yield = yield
		c.run(t, body)
	})
	t.co, t.step = c, stepCoroutine
	return stepCoroutine(t)
}

// finish re-raises a panic of the body that has just returned.
func (c *coroutine) finish() Status {
	if p := c.fault; p != nil {
		c.fault = nil
		panic(p)
	}
	return Finish
}

// run calls body, catching its panic with the stack where it happened, which
// would be lost by the time iter.Pull re-raised it in the scheduler.
func (c *coroutine) run(t *Task, body func(*Task)) {
	defer func() {
		r := recover()
		if _, ok := r.(killed); r != nil && !ok {
			c.fault = &PanicError{ID: t.id, Name: t.name, Value: r, Stack: debug.Stack()}
		}
	}()
	body(t)
}

// stop ends the coroutine, running the body's deferred calls, and returns a
// panic they raised, if any.
func (c *coroutine) stop() *PanicError {
	c.cancel()
	p := c.fault
	c.fault = nil
	return p
}

// Yield suspends a generator-style task: the scheduler runs the others and
// resumes t later. If t is ended meanwhile, Yield does not return: the body
// unwinds through its deferred calls. Yield panics if t is a raw step task.
//
// Yield is small enough to be inlined into the body, which saves a
// mispredicted return at every switch back into the coroutine; hence the
// misuse panic's message is formatted only when it is printed.
func (t *Task) Yield() {
	if t.co == nil {
		panic(notGenerator{t})
	}
	if !t.co.yield(struct{}{}) {
		panic(killed{})
	}
}

// notGenerator is the panic of Yield called on a task that is not a running
// generator-style task.
type notGenerator struct{ t *Task }

func (e notGenerator) Error() string {
	return "task: Yield called on " + e.t.String() + ", which is not a running generator-style task"
}

// Wait blocks t on q, the essay's block(queue) followed by yield, and
// returns why t was woken: nil when unblocked in turn, or the error it was
// woken with (a timeout, a closed descriptor).
func (t *Task) Wait(q *Queue) error {
	t.mustBeCurrent("Wait")
	t.sched.Block(q)
	t.Yield()
	return t.TakeWakeErr()
}

// WaitUntil is Wait with a deadline: it returns ErrTimeout if t is still
// blocked on q at the deadline.
func (t *Task) WaitUntil(q *Queue, deadline time.Time) error {
	t.mustBeCurrent("WaitUntil")
	t.sched.BlockUntil(q, deadline)
	t.Yield()
	return t.TakeWakeErr()
}

// Sleep suspends t for at least d, letting the other tasks run.
func (t *Task) Sleep(d time.Duration) {
	t.mustBeCurrent("Sleep")
	t.sched.BlockUntil(nil, time.Now().Add(d))
	t.Yield()
	t.TakeWakeErr()
}

func (t *Task) mustBeCurrent(op string) {
	if t.sched == nil || t.sched.Current() != t {
		panic("task: " + op + " called on " + t.String() + ", which is not the running task")
	}
}

// PanicError reports a panic in a task: the task, the value and the stack
// of the goroutine that panicked.
type PanicError struct {
	ID    uint64
	Name  string
	Value any
	Stack []byte
}

func (p *PanicError) Error() string {
	return fmt.Sprintf("task %s#%d panicked: %v\n\n%s", p.Name, p.ID, p.Value, p.Stack)
}

// Unwrap returns the panic value if it is an error.
func (p *PanicError) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}
