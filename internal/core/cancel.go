package core

import (
	"context"
	"time"
)

// A Scope is a region of one task's life, or of a group of tasks' lives,
// that can be cancelled with a cause, by hand or when its deadline passes:
// trio's cancel scope. Scopes form a tree. A task's own scopes (its root
// scope, and those it enters in it) nest over the scope of the group it was
// started in, which nests over the scope its parent was in when it made the
// group. Cancelling a scope cancels everything inside it: every operation
// of a task in it, or in a scope inside it, fails with a *CanceledError: a
// wait at once, and any other operation that goes through Checkpoint (a
// read, a send...) when it is called, as at trio's checkpoints.
//
// Cancellation is delivered only at operations: a task that computes
// without one runs on to its next. Kill is for a task that never makes
// one again.
type Scope struct {
	parent                 *Scope
	firstChild, prev, next *Scope // the scopes directly inside this one
	owner                  *Task  // the task whose scope this is; nil for a group's
	cause                  error  // set once cancelled
	deadline               int64  // when the scope cancels itself, on the scheduler's clock; 0 if never
	s                      *Sched
	ctx                    context.Context // made on demand, for library code that takes a context
	cancelCtx              context.CancelCauseFunc
}

// CanceledError is what a wait returns when a scope it is in is cancelled.
// It matches context.Canceled with errors.Is, and unwraps to the cause:
// context.DeadlineExceeded for a scope whose deadline passed, the first
// error of a group, or what Cancel was given.
type CanceledError struct {
	Cause error
	Scope *Scope // the scope that was cancelled: the outermost one, if several were
}

func (e *CanceledError) Error() string {
	if e.Cause == context.Canceled {
		return e.Cause.Error()
	}
	return "canceled: " + e.Cause.Error()
}

// Is reports true for context.Canceled.
func (e *CanceledError) Is(target error) bool { return target == context.Canceled }

// Unwrap returns the cause.
func (e *CanceledError) Unwrap() error { return e.Cause }

// NewScope makes a scope inside parent (nil for none) on s, owned by owner
// (nil for a group's), with a deadline (0 for none).
func NewScope(s *Sched, parent *Scope, owner *Task, deadline int64) *Scope {
	sc := &Scope{parent: parent, owner: owner, deadline: deadline, s: s}
	if parent != nil {
		sc.next = parent.firstChild
		if sc.next != nil {
			sc.next.prev = sc
		}
		parent.firstChild = sc
	}
	return sc
}

// FirstChild returns the first scope directly inside sc, or nil; Next the
// one after it.
func (sc *Scope) FirstChild() *Scope { return sc.firstChild }

// Next returns the next scope inside sc's parent, or nil.
func (sc *Scope) Next() *Scope { return sc.next }

// Owner returns the task whose scope sc is, or nil for a group's.
func (sc *Scope) Owner() *Task { return sc.owner }

// Cancelled returns the cause the scope was cancelled with, or nil.
func (sc *Scope) Cancelled() error { return sc.cause }

// Deadline returns the scope's own deadline, 0 if none.
func (sc *Scope) Deadline() int64 { return sc.deadline }

// Cancel cancels sc and every scope inside it with cause (context.Canceled
// if nil), waking every task in them that waits. Cancelling again does
// nothing.
func (sc *Scope) Cancel(cause error) {
	if sc.cause != nil {
		return
	}
	if cause == nil {
		cause = context.Canceled
	}
	sc.cause = cause
	if sc.cancelCtx != nil {
		sc.cancelCtx(cause)
	}
	sc.wakeAll()
}

// wakeAll wakes the waiting tasks of sc and of the scopes inside it, whose
// waits then find the cancellation.
func (sc *Scope) wakeAll() {
	if t := sc.owner; t != nil && t.flags&(blocked|shielded) == blocked {
		if err := t.cancelled(); err != nil {
			t.wake(-1, err)
		}
	}
	for c := sc.firstChild; c != nil; c = c.next {
		c.wakeAll()
	}
}

// Close ends sc: it leaves its parent, and its context, if made, is
// cancelled, since nothing inside the scope goes on.
func (sc *Scope) Close() {
	if p := sc.parent; p != nil {
		if sc.prev != nil {
			sc.prev.next = sc.next
		} else if p.firstChild == sc {
			p.firstChild = sc.next
		}
		if sc.next != nil {
			sc.next.prev = sc.prev
		}
		sc.prev, sc.next = nil, nil
	}
	if sc.cancelCtx != nil {
		sc.cancelCtx(context.Canceled)
	}
}

// Context returns a context.Context that is done when sc is cancelled, with
// sc's cause, or closed; with sc's deadline, the earliest of its scopes'.
// It is made at the first call. Any goroutine may use it; only the
// scheduler's cancels it.
func (sc *Scope) Context() context.Context {
	if sc.ctx != nil {
		return sc.ctx
	}
	parent := sc.s.base
	if parent == nil {
		parent = context.Background()
	}
	if sc.parent != nil {
		parent = sc.parent.Context()
	}
	ctx, cancel := context.WithCancelCause(parent)
	if sc.deadline != 0 {
		var stop context.CancelFunc
		at := sc.s.epoch.Add(time.Duration(sc.deadline))
		ctx, stop = context.WithDeadlineCause(ctx, at, context.DeadlineExceeded)
		inner := cancel
		cancel = func(cause error) { inner(cause); stop() }
	}
	sc.ctx, sc.cancelCtx = ctx, cancel
	if sc.cause != nil {
		cancel(sc.cause)
	}
	return ctx
}

// Cancellation returns the error t's waits fail with because a scope it is
// in is cancelled, or nil.
func (t *Task) Cancellation() error { return t.cancelled() }

// cancelled returns the error t's waits fail with for cancellation, or
// nil: the outermost cancelled scope of those t is in decides it, so that
// a scope absorbs a cancellation only if it was its own. A scope whose
// deadline has passed is cancelled now, even if no timer has said so yet
// (t was busy, not waiting, at the time).
func (t *Task) cancelled() error {
	if t.x == nil || t.x.scope == nil {
		return nil
	}
	if d := t.scopeDeadline(); d != 0 {
		if now := t.s.Now(); d <= now {
			t.expire(now)
		}
	}
	var outer *Scope
	for sc := t.x.scope; sc != nil; sc = sc.parent {
		if sc.cause != nil {
			outer = sc
		}
	}
	if outer == nil {
		return nil
	}
	return &CanceledError{Cause: outer.cause, Scope: outer}
}

// scopeDeadline returns the earliest deadline of the scopes t is in, 0 if
// none.
func (t *Task) scopeDeadline() int64 {
	if t.x == nil {
		return 0
	}
	var d int64
	for sc := t.x.scope; sc != nil; sc = sc.parent {
		if sc.deadline != 0 && (d == 0 || sc.deadline < d) {
			d = sc.deadline
		}
	}
	return d
}

// expire cancels the scopes t is in whose deadline has passed by now, the
// outermost last so that it is the cause of t's error, and reports whether
// there were any.
func (t *Task) expire(now int64) bool {
	if t.x == nil {
		return false
	}
	var expired []*Scope
	for sc := t.x.scope; sc != nil; sc = sc.parent {
		if sc.deadline != 0 && sc.deadline <= now && sc.cause == nil {
			expired = append(expired, sc)
		}
	}
	for _, sc := range expired {
		sc.Cancel(context.DeadlineExceeded)
	}
	return len(expired) > 0
}

// Scope returns the innermost scope t is in, or nil.
func (t *Task) Scope() *Scope {
	if t.x == nil {
		return nil
	}
	return t.x.scope
}

// RootScope returns t's own outermost scope, making it (inside the scope of
// the group t was started in, if any) at the first call.
func (t *Task) RootScope() *Scope {
	x := t.extra()
	t.flags |= scoped
	if x.root == nil {
		x.root = NewScope(t.s, x.group, t, 0)
		x.scope = x.root
	}
	return x.root
}

// EnterScope makes a scope inside t's innermost one, with a deadline (0 for
// none), and makes it t's innermost. ExitScope undoes it.
func (t *Task) EnterScope(deadline int64) *Scope {
	t.RootScope()
	sc := NewScope(t.s, t.x.scope, t, deadline)
	t.x.scope = sc
	return sc
}

// ExitScope closes sc, t's innermost scope, and makes its parent t's
// innermost again.
func (t *Task) ExitScope(sc *Scope) {
	if t.x == nil || t.x.scope != sc {
		panic("core: ExitScope of a scope that is not " + t.String() + "'s innermost")
	}
	t.x.scope = sc.parent
	sc.Close()
}

// StartIn puts t, not yet started, in group scope g: its root scope is made
// inside g at once, so that cancelling g reaches t.
func (t *Task) StartIn(g *Scope) {
	t.flags |= scoped
	x := t.extra()
	x.group = g
	x.root = NewScope(g.s, g, t, 0)
	x.scope = x.root
}

// closeScopes closes the scopes t owns, innermost first, as t ends.
func (t *Task) closeScopes() {
	if t.x == nil {
		return
	}
	for sc := t.x.scope; sc != nil && sc.owner == t; sc = sc.parent {
		sc.Close()
	}
	t.x.scope = t.x.group
}

// SetBase sets the context the scopes' contexts derive from, e.g.
// RunContext's.
func (s *Sched) SetBase(ctx context.Context) { s.base = ctx }
