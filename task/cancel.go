package task

import (
	"context"
	"errors"
	"time"

	"github.com/lwtask/lwtask/internal/core"
)

// Cancellation, after trio's cancel scopes. A task, a group of tasks, and a
// part of a task's work (MoveOnAfter, FailAfter) are each a scope that can
// be cancelled with a cause; scopes nest, and cancelling one cancels all
// inside it. A cancelled task's waits fail, the one it is in at once and
// each later one, with an error that matches context.Canceled under
// errors.Is and unwraps to the cause: I/O, channels, sleeps, selects,
// utensils, all alike. A task is only ever cancelled at a wait; it decides
// what to do about it, and usually returns the error.

// Cancel cancels t with cause (context.Canceled if nil): its waits fail
// with an error that matches context.Canceled and wraps cause. t may be any
// task of the same scheduler, the running one included; cancelling a task
// again does nothing.
func (t *Task) Cancel(cause error) { t.core().RootScope().Cancel(cause) }

// Cancelled returns the error t's waits fail with because a scope it is in
// was cancelled, or nil.
func (t *Task) Cancelled() error { return t.core().Cancellation() }

// Context returns a context.Context for library code that takes one: it is
// done when t's innermost scope, or one outside it, is cancelled, with its
// cause (context.Cause), and when that scope ends; its deadline is the
// earliest of those scopes'. It derives from the context Run was given
// (RunContext), if any. Any goroutine may watch it; a task must not block
// its scheduler's goroutine on its Done channel.
func (t *Task) Context() context.Context {
	ct := t.core()
	sc := ct.Scope()
	if sc == nil {
		sc = ct.RootScope()
	}
	return sc.Context()
}

// MoveOnAfter runs body, and once d has passed cancels every wait in it,
// as trio's move_on_after: body's waits fail with a cancellation whose
// cause is context.DeadlineExceeded, and body, returning that error, ends.
// MoveOnAfter then returns nil, having moved on; otherwise it returns
// body's error. body must run on t and use t for its waits.
func (t *Task) MoveOnAfter(d time.Duration, body func() error) error {
	return t.MoveOnAt(t.Now().Add(d), body)
}

// MoveOnAt is MoveOnAfter with a deadline. The zero time means none: body
// runs in a scope that only Cancel of t, or of a scope outside, cancels.
func (t *Task) MoveOnAt(deadline time.Time, body func() error) error {
	err, own := t.inScope(deadline, body)
	if own {
		return nil
	}
	return err
}

// FailAfter is MoveOnAfter that fails: if the deadline cut body short, it
// returns ErrTooSlow, as trio's fail_after raises TooSlowError.
func (t *Task) FailAfter(d time.Duration, body func() error) error {
	err, own := t.inScope(t.Now().Add(d), body)
	if own {
		return ErrTooSlow
	}
	return err
}

// ErrTooSlow is FailAfter's error when its deadline cut the work short. It
// matches ErrTimeout (os.ErrDeadlineExceeded) and context.DeadlineExceeded
// under errors.Is, and reports Timeout() true.
var ErrTooSlow error = tooSlow{}

type tooSlow struct{}

func (tooSlow) Error() string   { return "deadline exceeded: work cut short" }
func (tooSlow) Timeout() bool   { return true }
func (tooSlow) Temporary() bool { return true }
func (tooSlow) Is(target error) bool {
	return target == ErrTimeout || target == context.DeadlineExceeded
}

// inScope runs body in a new scope of t with a deadline. It returns body's
// error, and whether the scope ended it by its own cancellation (rather
// than an outer scope's), which the caller absorbs.
func (t *Task) inScope(deadline time.Time, body func() error) (error, bool) {
	ct := t.core()
	ct.CheckRunning("MoveOnAfter")
	sc := ct.EnterScope(ct.Deadline(deadline))
	defer ct.ExitScope(sc)
	err := body()
	// The scope absorbs its own cancellation only: an outer scope's is
	// the outer scope's to handle. A body that was not cut short, though
	// the deadline passed, ends as it ended, as in trio.
	var ce *core.CanceledError
	return err, errors.As(err, &ce) && ce.Scope == sc
}
