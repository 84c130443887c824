package task

import (
	"errors"
	"fmt"
	"time"
)

// Event is a flag that tasks wait for: asyncio's and trio's Event. Wait
// returns at once while it is set; Set wakes every task waiting, and their
// waits return even if the event is cleared again before they run. The
// zero Event is unset and ready to use; NewEvent gives it a label.
type Event struct {
	set     bool
	q       Queue
	isSetFn func(*Task) bool // made once, for Case
}

// NewEvent returns an unset event labelled label in task dumps.
func NewEvent(label string) *Event { return &Event{q: Queue{Label: label}} }

// Set sets e and wakes every task waiting for it. Any task, or a posted
// function, may set it.
func (e *Event) Set() {
	e.set = true
	e.q.WakeAll(nil)
}

// Clear unsets e.
func (e *Event) Clear() { e.set = false }

// IsSet reports whether e is set.
func (e *Event) IsSet() bool { return e.set }

// Wait waits until e is set.
func (e *Event) Wait(t *Task) error { return e.WaitUntil(t, time.Time{}) }

// WaitUntil is Wait with a deadline, past which it fails with ErrTimeout.
// The zero time means none.
func (e *Event) WaitUntil(t *Task, deadline time.Time) error {
	ct := t.core()
	if err := ct.Checkpoint("Event.Wait"); err != nil {
		return err
	}
	if e.set {
		return nil
	}
	// Only Set wakes e's queue: woken with no error means it was set.
	return ct.Wait("Event.Wait", e.q.core(), ct.Deadline(deadline))
}

// WaitStep is Wait for a raw step: it returns nil if e is set, and
// otherwise parks t until it is and returns ErrAgain: the step returns
// Yield and calls WaitStep again at its next step.
func (e *Event) WaitStep(t *Task) error {
	ct := t.core()
	if err := ct.CheckpointStep("Event.WaitStep"); err != nil {
		return err
	}
	if ct.TakeWaitTag() == e { // back from this step form's wait
		if _, err := ct.Result(); err != nil && !e.set {
			return err
		}
		return nil // set since the wait began, even if cleared again
	}
	if e.set {
		return nil
	}
	if err := ct.Block("Event.WaitStep", e.q.core(), 0); err != nil {
		return err
	}
	ct.SetWaitTag(e)
	return ErrAgain
}

// Case returns a Case that is ready once e is set.
func (e *Event) Case() Case {
	if e.isSetFn == nil {
		e.isSetFn = func(*Task) bool { return e.set }
	}
	// Being woken from the queue means a Set happened: done, as for a
	// hand-off, even if the event was cleared since.
	return HandOffCase(&e.q, e.isSetFn)
}

// ErrNoPermit is returned by Semaphore.Release when the task holds no
// permit of the semaphore.
var ErrNoPermit = errors.New("semaphore: task holds no permit")

// Semaphore is a counting semaphore with a FIFO of waiting tasks, whose
// Release hands a permit straight to the first waiter, as a utensil does:
// no task can take it in between, and a waiter handed one and killed before
// it runs passes it on. Permits are held by tasks: a task that ends holding
// some gives them back.
type Semaphore struct {
	free int
	q    Queue
	take func(*Task) bool // TryAcquire, made once for AcquireCase
}

// NewSemaphore returns a semaphore with n permits, labelled label in task
// dumps.
func NewSemaphore(label string, n int) *Semaphore {
	if n < 0 {
		panic("task: NewSemaphore with a negative count")
	}
	s := &Semaphore{free: n, q: Queue{Label: label}}
	s.take = s.TryAcquire
	return s
}

// Available returns the number of permits free.
func (s *Semaphore) Available() int { return s.free }

// Waiting returns the number of tasks waiting for a permit.
func (s *Semaphore) Waiting() int { return s.q.Len() }

// Name returns the semaphore's label.
func (s *Semaphore) Name() string { return s.q.Label }

// Acquire takes a permit, waiting in line while there is none.
func (s *Semaphore) Acquire(t *Task) error { return s.AcquireUntil(t, time.Time{}) }

// AcquireUntil is Acquire with a deadline, past which it fails with
// ErrTimeout and takes no permit. The zero time means none.
func (s *Semaphore) AcquireUntil(t *Task, deadline time.Time) error {
	ct := t.core()
	if err := ct.Checkpoint("Semaphore.Acquire"); err != nil {
		return err
	}
	if s.TryAcquire(t) {
		return nil
	}
	// Unblocked means handed a permit by Release; any other end of the
	// wait comes with its error, and no permit.
	return ct.Wait("Semaphore.Acquire", s.q.core(), ct.Deadline(deadline))
}

// TryAcquire takes a permit for t if one is free, without waiting, and
// reports whether it did. Waiting tasks come first: it takes none while
// any waits.
func (s *Semaphore) TryAcquire(t *Task) bool {
	if s.free == 0 || s.q.Len() > 0 {
		return false
	}
	s.free--
	t.Acquired(s)
	return true
}

// AcquireStep is Acquire for a raw step. It returns nil once t holds a
// permit. Otherwise it returns ErrAgain, t queued for a permit (or its turn
// spent): the step returns Yield, and at its next step t holds the permit
// if one was handed to it; it calls AcquireStep again only if not.
func (s *Semaphore) AcquireStep(t *Task) error {
	ct := t.core()
	if err := ct.CheckpointStep("Semaphore.AcquireStep"); err != nil {
		return err
	}
	if s.TryAcquire(t) {
		return nil
	}
	if err := ct.Block("Semaphore.AcquireStep", s.q.core(), 0); err != nil {
		return err
	}
	return ErrAgain
}

// Release gives back a permit t holds: it goes straight to the first task
// waiting, if any.
func (s *Semaphore) Release(t *Task) error {
	if !t.Holds(s) {
		return fmt.Errorf("%w: %s, %s", ErrNoPermit, t, s.q.Label)
	}
	t.Released(s)
	s.handOff()
	return nil
}

// Abandon gives back a permit of t, which ended holding it. It implements
// Resource.
func (s *Semaphore) Abandon(*Task) { s.handOff() }

func (s *Semaphore) handOff() {
	if next := s.q.Unblock(); next != nil {
		next.Acquired(s)
		return
	}
	s.free++
}

// AcquireCase returns a Case that takes a permit.
func (s *Semaphore) AcquireCase() Case { return HandOffCase(&s.q, s.take) }

// WaitGroup waits for a count of things to be done: Go's sync.WaitGroup,
// for tasks. The zero WaitGroup is ready to use.
type WaitGroup struct {
	n int
	q Queue
}

// Add adds delta, which may be negative, to the count; at zero, the tasks
// waiting are woken. It panics if the count goes below zero.
func (wg *WaitGroup) Add(delta int) {
	wg.n += delta
	switch {
	case wg.n < 0:
		panic("task: WaitGroup count below zero")
	case wg.n == 0:
		wg.q.WakeAll(nil)
	}
}

// Done takes one from the count.
func (wg *WaitGroup) Done() { wg.Add(-1) }

// WaitStep is Wait for a raw step: nil once the count is zero, else
// ErrAgain with t parked until it is.
func (wg *WaitGroup) WaitStep(t *Task) error {
	ct := t.core()
	if err := ct.CheckpointStep("WaitGroup.WaitStep"); err != nil {
		return err
	}
	if wg.n == 0 {
		return nil
	}
	if err := ct.Block("WaitGroup.WaitStep", wg.q.core(), 0); err != nil {
		return err
	}
	return ErrAgain
}

// Wait waits until the count is zero.
func (wg *WaitGroup) Wait(t *Task) error {
	ct := t.core()
	if err := ct.Checkpoint("WaitGroup.Wait"); err != nil {
		return err
	}
	for wg.n > 0 {
		if wg.q.Label == "" {
			wg.q.Label = "wait group"
		}
		if err := ct.Wait("WaitGroup.Wait", wg.q.core(), 0); err != nil {
			return err
		}
	}
	return nil
}
