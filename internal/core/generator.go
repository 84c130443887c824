package core

import (
	"iter"
	"runtime/debug"
)

// New returns a generator-style task that runs body on a coroutine. The
// coroutine is made at the first step, so a task ended before it ever ran
// costs no goroutine.
func New(name string, body func(t *Task)) *Task {
	return &Task{name: name, s: &unscheduled, step: func(t *Task) Status { return t.start(body) }}
}

// Panic is a panic recovered from a task: its value and the stack of the
// goroutine that panicked.
type Panic struct {
	Value any
	Stack []byte
}

// killed is the panic that unwinds a generator body whose task is ended:
// Yield raises it when the coroutine is stopped, and a task killing itself
// raises it directly. run recovers it.
type killed struct{}

// start is the first step of a generator-style task: it makes the
// coroutine (iter.Pull) and runs the body to its first suspension point.
func (t *Task) start(body func(*Task)) Status {
	t.resume, t.stop = iter.Pull(func(yield func(struct{}) bool) {
		t.yield = yield
		defer t.recoverBody()
		body(t)
	})
	t.step = nil
	if t.w == nil {
		t.w = newWait()
	}
	if _, ok := t.resume(); ok {
		return Yield
	}
	return Finish
}

// recoverBody recovers a panic of t's body, with the stack where it
// happened, which iter.Pull would lose by re-raising it on the scheduler's
// goroutine. It is deferred by the coroutine's function itself, which
// calls the body directly: every frame below the body is on each
// connection's stack for as long as it lives.
func (t *Task) recoverBody() {
	switch r := recover().(type) {
	case nil, killed:
	case yieldPanic:
		if r.t != t {
			t.extra().fault = &Panic{Value: Misuse(r, t), Stack: debug.Stack()}
		}
	default:
		t.extra().fault = &Panic{Value: r, Stack: debug.Stack()}
	}
}

// TakeFault returns and forgets a panic of t's body.
func (t *Task) TakeFault() *Panic {
	if t.x == nil {
		return nil
	}
	p := t.x.fault
	t.x.fault = nil
	return p
}

// Yield suspends a generator-style task until its next turn. It is small
// enough to be inlined into the body, which saves a mispredicted return at
// every switch back into the coroutine: hence one call only, and a misuse
// panic whose message is formatted when it is printed.
//
// A task being ended has no more turns: while its deferred calls run,
// Yield returns at once, its yield being yieldEnding by then. A task killed
// while its code was on the stack (doomed) yields as usual, and the run
// loop ends it when its step returns.
func (t *Task) Yield() {
	if t.s.current != t || !t.yield(struct{}{}) {
		panic(yieldPanic{t})
	}
}

// yieldPanic is Yield's one panic, raised with t. Recovered in t's own
// body, it means t's yield returned false: the task is being ended, and the
// panic unwinds its body like killed. Anywhere else, Yield was called with
// a task that is not the running one, and whoever recovers it turns it
// into that bug's MisuseError (Misuse), naming the running task.
type yieldPanic struct{ t *Task }

func (e yieldPanic) Error() string { return Misuse(e, e.t.s.current).(error).Error() }

// Misuse returns r, a recovered panic value, with a misuse of Yield turned
// into a MisuseError naming running, the task whose code raised it.
func Misuse(r any, running *Task) any {
	switch r := r.(type) {
	case yieldPanic:
		detail := "no task is running"
		if running != nil {
			detail = running.String() + " is running"
		}
		return &MisuseError{Op: "Yield", Task: r.t.String(), Detail: detail}
	case rawYieldPanic:
		return &MisuseError{Op: "Yield", Task: running.String(), Detail: "it is a raw step task: return Yield from its step instead"}
	}
	return r
}

// rawYield is the yield of a raw step task, whose step returns Yield
// instead: calling t.Yield() in a step is a bug, which the scheduler's
// recovery names (Misuse).
func rawYield(struct{}) bool { panic(rawYieldPanic{}) }

type rawYieldPanic struct{}

func (rawYieldPanic) Error() string {
	return "lwtask: Yield called with a raw step task: return Yield from its step instead"
}

// yieldEnding is the yield of a generator-style task being ended: its
// deferred calls run, and Yield in them returns at once.
func yieldEnding(struct{}) bool { return true }

// unwindIfDoomed ends a generator-style task killed while its code was on
// the stack, now that it has reached a suspension point.
func (t *Task) unwindIfDoomed() {
	if t.flags&(doomed|ending) == doomed && t.resume != nil {
		t.flags |= ending
		t.yield = yieldEnding
		panic(killed{})
	}
}
