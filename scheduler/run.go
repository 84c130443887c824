package scheduler

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/lwtask/lwtask/task"
)

// An EventSource is where tasks wait for the world outside the scheduler,
// such as descriptors becoming readable. Run asks it to wait when no task is
// ready, and to poll without waiting after every round of the ready list so
// that a task yielding in a loop cannot starve the others' I/O.
type EventSource interface {
	// Parked returns the number of tasks waiting for events from the source.
	Parked() int
	// Wait waits up to timeout (negative: no limit; zero: just poll) for
	// events and makes the tasks they concern ready. It returns early after
	// Wakeup. An error ends Run.
	Wait(timeout time.Duration) error
	// Wakeup makes a Wait in progress, or the next one, return at once. Any
	// goroutine may call it.
	Wakeup()
}

// Run runs tasks until none is ready and none can become ready: nothing is
// parked on the event source, sleeping or posted. It returns nil then, a
// *DeadlockError if tasks are still blocked on queues that nothing can
// unblock, a *task.PanicError if a task panicked under the default policy,
// or the event source's error. Run also returns, with nil, soon after Stop.
//
// When Run returns, every task has ended: generator-style tasks have run
// their deferred calls and released their coroutines.
func (s *Scheduler) Run() (err error) {
	if s.running {
		return ErrRunning
	}
	s.running = true
	defer func() {
		s.endAll()
		if err == nil && s.failure != nil {
			err = s.failure // a deferred call panicked as its task was ended
		}
		s.failure, s.eventErr, s.running = nil, nil, false
	}()
	for {
		if err := s.runReady(); err != nil {
			return err
		}
		if s.stopping.Load() {
			return nil
		}
		more, err := s.waitForEvent()
		if err != nil || !more {
			return err
		}
	}
}

// RunContext is Run, stopped when ctx is done.
func (s *Scheduler) RunContext(ctx context.Context) error {
	if ctx.Err() != nil {
		s.Stop() // now, not from AfterFunc's goroutine, which may be late
	}
	stop := context.AfterFunc(ctx, s.Stop)
	defer stop()
	return s.Run()
}

// Stop makes Run end every task and return nil at the next suspension point.
// Any goroutine may call it. A scheduler that has been stopped stays so.
func (s *Scheduler) Stop() {
	s.stopping.Store(true)
	s.events.Wakeup()
}

// Post arranges for f to run on the scheduler's goroutine between steps, for
// code outside the scheduler that hands it work or new tasks. Any goroutine
// may call it. It returns ErrStopped after Stop.
func (s *Scheduler) Post(f func()) error {
	s.mu.Lock()
	if s.stopping.Load() {
		s.mu.Unlock()
		return ErrStopped
	}
	s.posted = append(s.posted, f)
	first := !s.hasPosts.Swap(true)
	s.mu.Unlock()
	if first {
		s.events.Wakeup()
	}
	return nil
}

// Hold tells Run that work from outside is on its way, such as a goroutine
// that will Post when a child process exits: until the returned release
// is called, Run waits for it rather than reporting a deadlock or returning.
// Call Hold and release on the scheduler's goroutine (release typically in
// the posted function); calling release more than once has no effect.
func (s *Scheduler) Hold() (release func()) {
	s.holds++
	released := false
	return func() {
		if !released {
			released = true
			s.holds--
		}
	}
}

// runReady runs the ready list until it is empty, in rounds. It returns what
// ends Run: a panic under the default policy, or the event source's error.
func (s *Scheduler) runReady() error {
	for !s.halt && s.ready.Len() > 0 {
		s.runGuarded()
	}
	s.halt = false
	switch {
	case s.failure != nil:
		return s.failure
	case s.eventErr != nil:
		return s.eventErr
	}
	return nil
}

// runGuarded runs rounds of the ready list under one deferred recover, so a
// step costs no defer of its own; after a panic runReady calls it again.
func (s *Scheduler) runGuarded() {
	defer func() {
		if r := recover(); r != nil {
			s.recovered(r)
		}
	}()
	for !s.halt && s.ready.Len() > 0 {
		s.runRound()
		if s.stopping.Load() {
			s.halt = true
		}
	}
}

// runRound runs as many steps as there were ready tasks when it began, then
// lets timers, posted work and descriptor events make more tasks ready. The
// order among ready tasks is exactly the essay's.
func (s *Scheduler) runRound() {
	// Stop is checked at every step, not once a round, so that no task runs
	// after it: not the rest of a long round, nor any under a stopped
	// scheduler's next Run.
	for n := s.ready.Len(); n > 0 && !s.halt && !s.stopping.Load(); n-- {
		t := s.ready.Front()
		if t == nil {
			break
		}
		s.current = t
		status := t.Resume()
		s.current = nil
		if status == task.Finish {
			s.finish(t)
		} else {
			s.ExpireTimeslice(t)
		}
	}
	if s.events.Parked() > 0 {
		if err := s.events.Wait(0); err != nil {
			s.eventErr, s.halt = err, true
		}
	}
	// Checked here too, to save two calls a round: with few tasks a round
	// is only a few nanoseconds long.
	if s.timers.Len() > 0 {
		s.fireTimers()
	}
	if s.hasPosts.Load() {
		s.runPosted()
	}
}

// finish removes a task whose body has returned: the essay's unschedule.
func (s *Scheduler) finish(t *task.Task) {
	s.tasks.Remove(t)
	t.End(&s.timers)
}

// recovered handles a panic that escaped a step, a posted function or the
// event source. The running task, if any, is the culprit.
func (s *Scheduler) recovered(r any) {
	t := s.current
	s.current = nil
	p, ok := r.(*task.PanicError)
	if !ok {
		p = &task.PanicError{Value: r, Stack: debug.Stack(), Name: "(scheduler)"}
		if t != nil {
			p.ID, p.Name = t.ID(), t.Name()
		}
	}
	if t != nil {
		s.finish(t)
	}
	s.fail(p)
}

// fail applies the panic policy to p.
func (s *Scheduler) fail(p *task.PanicError) {
	if s.onPanic != nil {
		s.onPanic(p)
		return
	}
	if s.failure == nil {
		s.failure = p
	}
	s.halt = true
}

// waitForEvent is the essay's wait_for_event, generalised: with no task
// ready, it waits for the event source, the earliest timer or posted work,
// and reports false when none of them can ever make a task ready.
func (s *Scheduler) waitForEvent() (more bool, err error) {
	if s.events.Parked() == 0 && s.timers.Len() == 0 && s.holds == 0 && !s.hasPosts.Load() {
		return false, s.deadlock()
	}
	timeout := time.Duration(-1)
	if t := s.timers.Earliest(); t != nil {
		timeout = max(0, time.Duration(t.Deadline()-s.now()))
	}
	if err := s.events.Wait(timeout); err != nil {
		return false, err
	}
	s.fireTimers()
	s.runPostedGuarded()
	return true, nil
}

// fireTimers wakes every task whose deadline has passed, earliest first.
func (s *Scheduler) fireTimers() {
	if s.timers.Len() == 0 {
		return
	}
	now := s.now()
	for t := s.timers.Earliest(); t != nil && t.Deadline() <= now; t = s.timers.Earliest() {
		s.timers.Remove(t)
		if q := t.Queue(); q != nil {
			q.Remove(t)
			t.SetWakeErr(task.ErrTimeout)
		}
		s.ready.PushBack(t)
	}
}

func (s *Scheduler) runPostedGuarded() {
	defer func() {
		if r := recover(); r != nil {
			s.recovered(r)
		}
	}()
	s.runPosted()
}

// runPosted runs the functions posted from other goroutines, in order.
func (s *Scheduler) runPosted() {
	if !s.hasPosts.Load() {
		return
	}
	s.mu.Lock()
	fs := s.posted
	s.posted, s.spare = s.spare[:0], nil
	s.hasPosts.Store(false)
	s.mu.Unlock()
	for i, f := range fs {
		fs[i] = nil
		f()
	}
	s.spare = fs[:0]
}

// endAll ends every remaining task at the end of Run. Ending one may wake or
// create others (deferred calls run), so it loops until the table is empty.
func (s *Scheduler) endAll() {
	for t := s.tasks.Any(); t != nil; t = s.tasks.Any() {
		s.Kill(t)
	}
	s.current = nil
	s.halt = false
}

// deadlock returns a *DeadlockError naming the tasks still blocked on
// queues, or nil if there are none.
func (s *Scheduler) deadlock() error {
	var blocked []task.Info
	for _, info := range s.tasks.Infos() {
		if info.State == task.Blocked {
			blocked = append(blocked, info)
		}
	}
	if len(blocked) == 0 {
		return nil
	}
	return &DeadlockError{Blocked: blocked}
}

// DeadlockError reports tasks blocked on queues when nothing can unblock
// them.
type DeadlockError struct {
	Blocked []task.Info // ordered by ID
}

func (e *DeadlockError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "deadlock: %d task(s) blocked forever:", len(e.Blocked))
	for _, info := range e.Blocked {
		fmt.Fprintf(&b, "\n\t%s#%d waiting for %s", info.Name, info.ID, info.WaitingFor)
	}
	return b.String()
}
