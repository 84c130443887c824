// Package utensil provides the essay's Utensil: a resource that one task
// holds at a time, with a FIFO queue of tasks waiting for it.
//
// Unlike the essay's version, Release hands ownership straight to the first
// waiter, and a task that ends while it holds a utensil, finished or killed
// (even one handed the utensil but killed before it ran again), passes it
// on to the next waiter, so a kill never stalls the others.
//
// A Utensil is built on package task's public waiting primitives (a Queue,
// Wait, Unblock and the Resource list), as task code may build its own;
// only its misuse checks reach inside, to name Acquire and Request in their
// messages.
package utensil

import (
	"errors"
	"fmt"
	"time"

	"github.com/lwtask/lwtask/internal/core"
	"github.com/lwtask/lwtask/task"
)

// ErrNotHeld is returned by Release when the task does not hold the utensil.
var ErrNotHeld = errors.New("utensil: not held by the releasing task")

// ErrAlreadyHeld is returned by Acquire when the task holds the utensil
// already: waiting for itself would never end.
var ErrAlreadyHeld = errors.New("utensil: already held by the acquiring task")

// Utensil is a resource held by at most one task at a time.
//
// Why ownership is handed off: the essay's release marks the utensil
// available and wakes the first waiter, which takes it when it next runs.
// In between, any task that calls acquire finds it available and takes it,
// and then the woken waiter takes it too: two philosophers eat with one
// fork (docs/design.md shows the table where it happens). Release here makes
// the first waiter the holder before it runs, so nobody can barge in. The
// price is the hazard CPython's locks met (bpo-27585): a waiter handed the
// utensil and then killed before it runs would hold it forever. The task's
// Resource list closes that gap: an ending task abandons what it holds, and
// Abandon hands it on.
type Utensil struct {
	owner   *task.Task
	queue   task.Queue
	takeNow func(*task.Task) bool // made once, for AcquireCase
}

// New returns a free utensil; name labels it in task dumps and deadlock
// reports, e.g. "fork 2".
func New(name string) *Utensil {
	u := &Utensil{queue: task.Queue{Label: name}}
	u.takeNow = func(t *task.Task) bool {
		switch u.owner {
		case nil:
			u.take(t)
			return true
		case t: // it would wait for itself forever
			panic(fmt.Errorf("%w: %s holds %s, and selects to acquire it", ErrAlreadyHeld, t, u.Name()))
		}
		return false
	}
	return u
}

// AcquireCase returns a select case (task.Case) that makes the task the
// holder of u: at once if u is free, or when Release hands u on to it,
// first come, first served, as Acquire does.
func (u *Utensil) AcquireCase() task.Case { return task.HandOffCase(&u.queue, u.takeNow) }

// Name returns the utensil's name.
func (u *Utensil) Name() string { return u.queue.Label }

// Holder returns the task that holds u, or nil if u is free.
func (u *Utensil) Holder() *task.Task { return u.owner }

// Waiting returns the number of tasks queued for u.
func (u *Utensil) Waiting() int { return u.queue.Len() }

// Acquire makes the generator-style task t the holder of u, waiting in
// line, and yielding, while another task holds it: the essay's
// "yield from fork.acquire()". If the wait ends otherwise (t is being
// ended, or is woken with an error), t does not hold u and Acquire returns
// an error wrapping why.
func (u *Utensil) Acquire(t *task.Task) error { return u.AcquireUntil(t, time.Time{}) }

// AcquireUntil is Acquire with a deadline, past which it fails with an error
// wrapping task.ErrTimeout. The zero time means no deadline.
func (u *Utensil) AcquireUntil(t *task.Task, deadline time.Time) error {
	if err := (*core.Task)(t).Checkpoint("Acquire"); err != nil {
		return fmt.Errorf("utensil: %s stopped waiting for %s: %w", t, u.Name(), err)
	}
	switch u.owner {
	case nil:
		u.take(t)
		return nil
	case t:
		return fmt.Errorf("%w: %s holds %s", ErrAlreadyHeld, t, u.Name())
	}
	err := t.WaitUntil(&u.queue, deadline)
	if u.owner == t { // handed over by Release or Abandon
		return nil
	}
	if err == nil {
		err = ErrNotHeld
	}
	return fmt.Errorf("utensil: %s stopped waiting for %s: %w", t, u.Name(), err)
}

// Request is Acquire for a raw step function. If u is free, t holds it at
// once and Request returns true. Otherwise the step returns task.Yield: t
// has been queued for u, and holds it when its step is next called (or
// rarely, its turn being spent, it was not queued). So a step that finds
// Holder() is not t when it runs again asks again, unless t.WaitErr() says
// its wait was ended otherwise.
func (u *Utensil) Request(t *task.Task) (granted bool, err error) {
	switch err := (*core.Task)(t).CheckpointStep("Request"); { // first: it checks that t is the running task
	case err == core.ErrAgain:
		return false, nil
	case err != nil:
		return false, err
	case u.owner == t:
		return false, fmt.Errorf("%w: %s holds %s", ErrAlreadyHeld, t, u.Name())
	case u.owner == nil:
		u.take(t)
		return true, nil
	}
	return false, t.Block(&u.queue)
}

func (u *Utensil) take(t *task.Task) {
	u.owner = t
	t.Acquired(u)
}

// Release gives u up. Ownership passes straight to the first task waiting,
// which is made ready; no other task can take u in between.
func (u *Utensil) Release(t *task.Task) error {
	if u.owner != t {
		holder := "nobody"
		if u.owner != nil {
			holder = u.owner.String()
		}
		return fmt.Errorf("%w: %s released %s, which is held by %s", ErrNotHeld, t, u.Name(), holder)
	}
	t.Released(u)
	u.handOff()
	return nil
}

// Abandon is called when the task holding u ends: u passes on to the next
// waiter. It implements task.Resource.
func (u *Utensil) Abandon(t *task.Task) {
	if u.owner == t {
		u.handOff()
	}
}

func (u *Utensil) handOff() {
	u.owner = u.queue.Unblock()
	if u.owner != nil {
		u.owner.Acquired(u)
	}
}
