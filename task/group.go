package task

import (
	"errors"

	"github.com/lwtask/lwtask/internal/core"
)

// Group runs tasks as the children of one task, which waits for them all:
// structured concurrency, as trio's nursery, asyncio's TaskGroup and Go's
// errgroup have it.
//
//   - Children are started with Go and run in the group's scope, inside the
//     scope its owner was in when it made the group: cancelling the owner
//     cancels them too.
//   - The first child to fail, returning an error or panicking, cancels the
//     others, with that error as the cause, and its error becomes the
//     group's.
//   - No child outlives its group. Wait returns only once every child has
//     ended; an owner that ends without waiting (or is killed while it
//     waits) kills the children left.
//   - Groups nest: a child may make a group of its own.
type Group struct {
	owner   *Task
	scope   *core.Scope
	running int
	joined  Queue // the owner, waiting for the last child to end
	err     error // the first child's failure
	ownErr  error // what interrupted the owner's wait: its cancellation, a Wake
}

// NewGroup returns an empty group owned by t, which is to Wait for it.
func NewGroup(t *Task) *Group {
	ct := t.core()
	ct.CheckRunning("NewGroup")
	g := &Group{owner: t, joined: Queue{Label: "group of " + t.String()}}
	// Inside the owner's innermost scope, made now if it has none, so that
	// cancelling the owner reaches the children.
	ct.RootScope()
	g.scope = core.NewScope(ct.Sched(), ct.Scope(), nil, 0)
	t.Acquired(g)
	return g
}

// Go starts a child running body, as a generator-style task at the tail of
// the ready list, and returns it. If body returns an error, or panics, the
// group cancels the other children, and Wait returns that error (a
// *PanicError for a panic) unless another child failed first.
func (g *Group) Go(name string, body func(t *Task) error) *Task {
	if g.owner == nil {
		panic("task: Group.Go after the group has ended")
	}
	child := New(name, func(t *Task) {
		if err := body(t); err != nil {
			g.fail(err)
		}
	})
	cc := child.core()
	cc.StartIn(g.scope)
	cc.SetEndHook(groupHook{g})
	g.running++
	if why := g.owner.core().Sched().Schedule(cc); why != "" {
		panic("task: Group.Go: " + why)
	}
	return child
}

// Cancel cancels every child, with cause (context.Canceled if nil). Wait
// still waits for them to end, and returns cause, wrapped, unless a child
// failed first.
func (g *Group) Cancel(cause error) {
	g.scope.Cancel(cause)
}

// Running returns the number of children that have not ended.
func (g *Group) Running() int { return g.running }

// Wait waits until every child has ended, and returns the group's error:
// the first child's failure, or nil. The owner's own cancellation, or its
// scope's deadline, cancels the children, and Wait still waits for them,
// then returns the cancellation. Only the owner may wait; if it is killed
// meanwhile, the children are killed too.
func (g *Group) Wait(t *Task) error {
	ct := g.checkOwner(t, "Group.Wait")
	ct.Checkpoint("Group.Wait") // its cancellation is handled below: the children end first
	for g.running > 0 {
		if err := ct.Cancellation(); err != nil {
			g.interrupted(err)
		}
		if err := ct.BeginShielded("Group.Wait"); err != nil {
			return err // t is being ended: Abandon kills the children
		}
		ct.Enqueue(g.joined.core(), nil)
		if _, err := ct.Park(0); err != nil {
			g.interrupted(err) // woken (Wake): the children still end first
		}
	}
	return g.result(t)
}

// WaitStep is Wait for a raw step: it returns the group's result once every
// child has ended, and ErrAgain, t parked until then, before.
func (g *Group) WaitStep(t *Task) error {
	ct := g.checkOwner(t, "Group.WaitStep")
	if _, err := ct.Result(); err != nil {
		g.interrupted(err)
	}
	if g.running == 0 {
		return g.result(t)
	}
	if err := ct.Cancellation(); err != nil {
		g.interrupted(err)
	}
	if err := ct.BeginShielded("Group.WaitStep"); err != nil {
		return err
	}
	ct.Enqueue(g.joined.core(), nil)
	ct.Suspend(0)
	return ErrAgain
}

func (g *Group) checkOwner(t *Task, op string) *core.Task {
	ct := t.core()
	ct.CheckRunning(op)
	if t != g.owner {
		owner := "nobody: it has ended"
		if g.owner != nil {
			owner = g.owner.String()
		}
		panic(&core.MisuseError{Op: op, Task: t.String(), Detail: "only the group's owner, " + owner + ", may wait for it"})
	}
	return ct
}

// interrupted records what ended the owner's wait before the children did,
// and cancels the children: they end soon, and the owner waits on.
func (g *Group) interrupted(err error) {
	if g.ownErr == nil {
		g.ownErr = err
		// Done already if the owner's cancelled scope is outside the
		// group's, but the owner may be in a scope of its own.
		var ce *core.CanceledError
		if errors.As(err, &ce) {
			err = ce.Cause
		}
		g.scope.Cancel(err)
	}
}

// result ends the group, every child having ended, and returns its error.
func (g *Group) result(t *Task) error {
	if err := t.core().Cancellation(); err != nil {
		g.interrupted(err) // the owner was cancelled as the last child ended
	}
	t.Released(g)
	g.close()
	switch {
	case g.err != nil:
		return g.err
	case g.ownErr != nil:
		return g.ownErr
	}
	if cause := g.scope.Cancelled(); cause != nil { // Cancel was called
		return &core.CanceledError{Cause: cause, Scope: g.scope}
	}
	return nil
}

// fail records a child's failure: the first cancels the rest.
func (g *Group) fail(err error) {
	if g.err == nil {
		g.err = err
		g.scope.Cancel(err)
	}
}

// groupHook tells a group of its children's ends (core.EndHook), kept off
// the Group's own methods.
type groupHook struct{ g *Group }

func (h groupHook) TaskEnded(t *core.Task, p *core.Panic) { h.g.childEnded(t, p) }

// childEnded is told of each child's end, with its panic if it panicked.
func (g *Group) childEnded(t *core.Task, p *core.Panic) {
	if p != nil {
		g.fail(&PanicError{ID: t.ID(), Name: t.Name(), Value: p.Value, Stack: p.Stack})
	}
	g.running--
	if g.running == 0 {
		g.joined.WakeAll(nil)
	}
}

// Abandon kills the children left when the owner ends without having
// waited for them: no child outlives its group. It implements Resource.
//
// The children are listed first, then killed: killing one can end others
// (its deferred calls may), and a child whose code is on the stack (the one
// that killed the owner, say) is only marked, to end when it next suspends,
// since unwinding it now would unwind this call too.
func (g *Group) Abandon(owner *Task) {
	s := owner.core().Sched()
	g.scope.Cancel(ErrKilled)
	var children []*core.Task
	for sc := g.scope.FirstChild(); sc != nil; sc = sc.Next() {
		if t := sc.Owner(); t != nil && !t.Done() {
			children = append(children, t)
		}
	}
	for _, t := range children {
		if s.OnStack(t) {
			s.Doom(t)
		} else {
			s.Kill(t)
		}
	}
	g.close()
}

// close ends the group's scope; Go may not be called any more.
func (g *Group) close() {
	g.scope.Close()
	g.owner = nil
}
