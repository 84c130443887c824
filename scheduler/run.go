package scheduler

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/lwtask/lwtask/internal/core"
	"github.com/lwtask/lwtask/task"
	"github.com/lwtask/lwtask/timeline"
)

// An EventSource is where tasks wait for the world outside the scheduler,
// such as descriptors becoming readable. Run waits in it when no task is
// ready, and polls it without waiting between turns while tasks are parked
// in it, so that a task yielding in a loop cannot starve the others' I/O.
type EventSource interface {
	// Parked returns the number of tasks waiting for events from the source.
	Parked() int
	// Wait waits up to timeout (negative: no limit; zero: just poll) for
	// events and wakes the tasks they concern. It returns early after
	// Wakeup. An error ends Run.
	Wait(timeout time.Duration) error
	// Wakeup makes a Wait in progress, or the next one, return at once. Any
	// goroutine may call it.
	Wakeup()
}

// Run runs tasks until none is ready and none can become ready: nothing is
// parked on the event source, sleeping, held or posted. It returns nil then,
// a *DeadlockError if tasks are still blocked on queues that nothing can
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
	defer func() { err = s.shutdown(err) }()
	for s.loop() {
		// A panic was recovered: go on with the next turn.
	}
	switch {
	case s.failure != nil:
		return s.failure
	case s.stopping.Load():
		return nil
	}
	return s.deadlock()
}

// loop runs turns for as long as there is work, under one recovery. A panic
// that escapes a raw step, a posted function or the event source ends the
// task that was running, if any, is reported, and makes loop return true
// so that Run calls it again.
func (s *Scheduler) loop() (recovered bool) {
	defer func() {
		if r := recover(); r != nil {
			s.recovered(r, debug.Stack())
			recovered = true
		}
	}()
	for !s.halt.Load() && s.hasWork() {
		s.runOnce()
	}
	return false
}

// runOnce is one turn of the loop, in the manner of asyncio's _run_once: it
// polls for events, waiting only while no task is ready, wakes the tasks
// whose deadlines have passed, runs the functions posted from other
// goroutines, and then runs each task that was ready at that point for one
// step. Tasks made ready during those steps go to the tail and run next
// turn, which keeps the essay's order while letting events and timers in
// between any two steps of one task.
func (s *Scheduler) runOnce() {
	s.poll()
	s.core.Tick() // the turn's time, after a wait or a jump of a virtual clock
	if s.core.Timers() > 0 {
		s.core.SetSource("timer")
		s.core.FireTimers()
	}
	if s.core.Posted().Load() {
		s.runPosted()
	}
	s.core.SetSource("loop")
	if s.turns++; s.turns%publishEvery == 0 {
		s.publish()
	}
	// halt is checked before every step, not once a turn, so that no task
	// runs after Stop, or after a panic that ends Run.
	for n := s.core.ReadyLen(); n > 0; {
		t, status, left := s.core.RunSteps(n, &s.halt)
		if t == nil {
			break
		}
		s.retire(t, status)
		n = left
	}
}

// poll asks the event source for events: without waiting while tasks are
// ready or functions are posted, and otherwise until the earliest timer, if
// any. Posting and Stop interrupt the wait.
//
// With a virtual clock there is no waiting for a timer: when every task
// waits, the loop polls, and if nothing came it moves the clock on to the
// earliest deadline (trio's MockClock with autojump, tokio's paused time).
// While work from outside is held, it waits for it first, in real time, up
// to that deadline.
func (s *Scheduler) poll() {
	timeout := time.Duration(0)
	if s.core.ReadyLen() == 0 && !s.core.Posted().Load() {
		timeout = s.core.NextDeadline()
		if timeout > 0 && s.core.Virtual() {
			if s.holds == 0 {
				timeout = 0
			}
			s.wait(timeout)
			if s.core.ReadyLen() == 0 && !s.core.Posted().Load() {
				s.core.Advance()
			}
			return
		}
	} else if s.events.Parked() == 0 {
		return // nothing to poll, and no reason to wait
	}
	s.wait(timeout)
}

// wait waits in the event source, counting the wait, the descriptors it
// reported and, when it may block, the time idle.
func (s *Scheduler) wait(timeout time.Duration) {
	var start time.Time
	if timeout != 0 || s.core.Recording() {
		if timeout != 0 {
			s.publish() // idle: let Metrics see the latest counts
		}
		start = time.Now()
	}
	s.core.SetSource("poller")
	err := s.events.Wait(timeout)
	s.polls++
	ready := 0
	if s.ready != nil {
		ready = s.ready.Ready()
		s.pollEvents += uint64(ready)
	}
	if !start.IsZero() {
		waited := time.Since(start)
		if timeout != 0 {
			s.idle += waited
		}
		s.core.Record(timeline.Event{Kind: timeline.Poll, Arg: int64(waited), N: int64(ready)})
	}
	if err != nil {
		s.setFailure(err)
	}
}

// hasWork reports whether a task is ready or anything could make one ready.
func (s *Scheduler) hasWork() bool {
	return s.core.ReadyLen() > 0 || s.events.Parked() > 0 || s.core.Timers() > 0 ||
		s.holds > 0 || s.core.Posted().Load()
}

// recovered handles a panic that escaped a step, a posted function or the
// event source. The running task, if any, is the culprit, and is ended.
func (s *Scheduler) recovered(r any, stack []byte) {
	t := s.core.Current()
	s.core.Unwound()
	p := &task.PanicError{Name: "(scheduler)", Value: core.Misuse(r, t), Stack: stack}
	if t != nil {
		p.ID, p.Name = t.ID(), t.Name()
		s.stepPanic = r // for the timeline: a panic, not a kill
		s.retire(t, core.Yield)
		s.stepPanic = nil
	}
	s.fail(p)
}

// shutdown ends Run: it runs what is left of the posted work, so that every
// function Post accepted runs, ends every remaining task, and returns Run's
// result (a panic in deferred calls under the default policy, if nothing
// else).
func (s *Scheduler) shutdown(err error) error {
	for s.core.Posted().Load() {
		s.runPosted()
	}
	s.core.SetClosing(true)
	for t := s.core.Any(); t != nil; t = s.core.Any() {
		s.retire(t, core.Yield)
	}
	s.core.SetClosing(false)
	if err == nil {
		err = s.failure
	}
	s.publish()
	s.failure, s.running = nil, false
	s.halt.Store(s.stopping.Load())
	return err
}

// RunContext is Run, stopped when ctx is done. The tasks' own contexts
// derive from ctx.
func (s *Scheduler) RunContext(ctx context.Context) error {
	s.core.SetBase(ctx) // the tasks' contexts (task.Task.Context) derive from it
	if ctx.Err() != nil {
		s.Stop() // now, not from AfterFunc's goroutine, which may be late
	}
	stop := context.AfterFunc(ctx, s.Stop)
	defer stop()
	return s.Run()
}

// Stop makes Run end every task and return nil before the next step. Any
// goroutine may call it. A scheduler that has been stopped stays so.
func (s *Scheduler) Stop() {
	s.stopping.Store(true)
	s.halt.Store(true)
	s.events.Wakeup()
}

// Post arranges for f to run on the scheduler's goroutine between steps, for
// code outside the scheduler that hands it work or new tasks. Any goroutine
// may call it. Functions run in the order they were posted, each exactly
// once, even if one before it panics; those posted before Stop still run
// as Run returns. Post returns ErrStopped after Stop.
func (s *Scheduler) Post(f func()) error {
	s.mu.Lock()
	if s.stopping.Load() {
		s.mu.Unlock()
		return ErrStopped
	}
	s.posted = append(s.posted, f)
	first := !s.core.Posted().Swap(true)
	s.mu.Unlock()
	if first {
		s.events.Wakeup()
	}
	return nil
}

// runPosted runs the posted functions, in order, each exactly once. It
// takes the whole list at once, so that a storm of posts costs one lock a
// turn.
func (s *Scheduler) runPosted() {
	s.mu.Lock()
	batch := s.posted
	s.posted, s.spare = s.spare[:0], nil
	s.core.Posted().Store(false)
	s.mu.Unlock()
	s.core.SetSource("posted")
	s.core.Record(timeline.Event{Kind: timeline.Post, N: int64(len(batch))})
	s.posts += uint64(len(batch))
	for i, f := range batch {
		batch[i] = nil
		s.runPostedOne(f)
	}
	s.spare = batch[:0]
}

// runPostedOne runs f under a recovery of its own, so that a panic, handled
// by the panic policy, loses none of the functions posted after it.
func (s *Scheduler) runPostedOne(f func()) {
	defer func() {
		if r := recover(); r != nil {
			s.recovered(r, debug.Stack())
		}
	}()
	f()
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

// deadlock returns a *DeadlockError naming the tasks still blocked, or nil
// if there are none.
func (s *Scheduler) deadlock() error {
	var blocked []task.Info
	for _, info := range s.Tasks() {
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
