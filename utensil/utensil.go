// Package utensil provides the essay's Utensil: a resource that one task
// holds at a time, with a FIFO queue of tasks waiting for it.
//
// Unlike the essay's version, which marks a released utensil available and
// lets any task take it before the woken waiter runs (so two philosophers
// can end up holding one fork), Release hands ownership straight to the
// first waiter. A task that ends while it holds a utensil, finished or
// killed (even one handed the utensil but killed before it ran again),
// passes it on to the next waiter, so a kill never stalls the others.
package utensil

import (
	"errors"
	"fmt"

	"github.com/lwtask/lwtask/task"
)

// ErrNotHeld is returned by Release when the task does not hold the utensil.
var ErrNotHeld = errors.New("utensil: not held by the releasing task")

// ErrAlreadyHeld is returned by Acquire when the task holds the utensil
// already: waiting for itself would never end.
var ErrAlreadyHeld = errors.New("utensil: already held by the acquiring task")

// Utensil is a resource held by at most one task at a time.
type Utensil struct {
	owner *task.Task
	queue task.Queue
}

// New returns a free utensil; name labels it in task dumps and deadlock
// reports, e.g. "fork 2".
func New(name string) *Utensil {
	return &Utensil{queue: task.Queue{Label: name}}
}

// Name returns the utensil's name.
func (u *Utensil) Name() string { return u.queue.Label }

// Holder returns the task that holds u, or nil if u is free.
func (u *Utensil) Holder() *task.Task { return u.owner }

// Waiting returns the number of tasks queued for u.
func (u *Utensil) Waiting() int { return u.queue.Len() }

// Acquire makes the generator-style task t the holder of u, waiting in
// line, and yielding, while another task holds it: the essay's
// "yield from fork.acquire()". If t is woken by the scheduler's Wake
// instead, as a cancellation would, it does not hold u and Acquire returns
// an error wrapping the wake-up's error (ErrNotHeld if that was nil).
func (u *Utensil) Acquire(t *task.Task) error {
	granted, err := u.Request(t)
	if err == nil && !granted {
		t.Yield() // resumed by Release, already the holder...
		if werr := t.TakeWakeErr(); u.owner != t {
			// ...or by Wake, which took t out of the line without u.
			if werr == nil {
				werr = ErrNotHeld
			}
			return fmt.Errorf("utensil: %s stopped waiting for %s: %w", t, u.Name(), werr)
		}
	}
	return err
}

// Request is Acquire for a raw step function. If u is free, t holds it at
// once and Request returns true. Otherwise t is queued for it and Request
// returns false: the step should return task.Yield, and t holds u when its
// step is next called.
func (u *Utensil) Request(t *task.Task) (granted bool, err error) {
	switch u.owner {
	case nil:
		u.owner = t
		t.Acquired(u)
		return true, nil
	case t:
		return false, fmt.Errorf("%w: %s holds %s", ErrAlreadyHeld, t, u.Name())
	}
	s := t.Scheduler()
	if s == nil || s.Current() != t {
		panic("utensil: Request for " + t.String() + ", which is not the running task")
	}
	s.Block(&u.queue)
	return false, nil
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
	u.handOff(t.Scheduler())
	return nil
}

// Abandon is called when the task holding u ends: u passes on to the next
// waiter. It implements task.Resource.
func (u *Utensil) Abandon(t *task.Task) {
	if u.owner == t {
		u.handOff(t.Scheduler())
	}
}

func (u *Utensil) handOff(s task.Scheduler) {
	if u.queue.Len() == 0 {
		u.owner = nil
		return
	}
	next := s.Unblock(&u.queue)
	u.owner = next
	if next != nil {
		next.Acquired(u)
	}
}
