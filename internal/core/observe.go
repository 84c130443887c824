package core

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/lwtask/lwtask/timeline"
)

// What a scheduler lets others see of its work: counters, the clock it
// reads once a turn, and, when a sink is set, a timeline of events. None of
// it costs the run loop's inner loop anything: RunSteps counts its steps by
// its own countdown, and with a sink it runs a copy of itself that records
// (runStepsRecorded), so the loop without one has no check per step.

// Stats counts what a scheduler's tasks have done since it was made.
type Stats struct {
	Steps        uint64 // steps run, of either kind of task
	Switches     uint64 // of those, resumptions of a generator's coroutine
	Wakeups      uint64 // waits ended: a queue's unblock, a deadline, a Wake
	BudgetYields uint64 // yields forced by the turn's budget (see Budget)
	Created      uint64 // tasks scheduled for the first time
	MaxReady     int    // the longest the ready list has been
}

// Stats returns the counts so far.
func (s *Sched) Stats() Stats { return s.stats }

// SetSink makes s hand its events to k, or to nobody if k is nil.
func (s *Sched) SetSink(k timeline.Sink) { s.sink = k }

// Recording reports whether s has a sink.
func (s *Sched) Recording() bool { return s.sink != nil }

// Record hands e to the sink, if there is one: for the scheduler's own
// events (a poll, posted work, a task's end).
func (s *Sched) Record(e timeline.Event) {
	if s.sink != nil {
		s.sink.Record(e)
	}
}

// SetSource says what the loop is doing while no task runs, which is then
// what a task woken meanwhile was woken by: "poller", "timer", "posted".
func (s *Sched) SetSource(source string) { s.source = source }

// Source returns what SetSource said last.
func (s *Sched) Source() string { return s.source }

// Tick reads the clock, once a turn: the time a wait starts, which a task
// dump shows, is the turn's, which is precise enough to tell a task stuck
// for seconds and costs no clock read per wait.
func (s *Sched) Tick() { s.clock = s.Now() }

// Waited returns how long the blocked task t has waited, to the turn.
func (t *Task) Waited() time.Duration {
	if t.flags&blocked == 0 || t.w == nil {
		return 0
	}
	return time.Duration(max(0, t.s.clock-t.w.since))
}

// Kinds of wait, as a timeline tells them apart.
var waitKinds = [...]timeline.Wait{
	PlainQueue: timeline.WaitQueue,
	ChanQueue:  timeline.WaitChan,
	IOQueue:    timeline.WaitIO,
}

// recordBlock records the running task t's wait, which Suspend has begun.
func (s *Sched) recordBlock(t *Task, deadline int64) {
	e := timeline.Event{Kind: timeline.Block, Task: t.id, Name: t.name, Label: t.waitLabel()}
	switch w := t.w; {
	case w.first == nil:
		e.Wait = timeline.WaitSleep
	case len(w.more) > 0:
		e.Wait = timeline.WaitSelect
	default:
		e.Wait = waitKinds[w.first.q.kind]
	}
	if deadline != 0 {
		// The time left, not the deadline: the recorder's clock is not
		// the scheduler's (it starts elsewhere, or the scheduler's is
		// virtual), but a duration means the same on both.
		e.Arg = max(deadline-s.Now(), 1)
	}
	s.sink.Record(e)
}

// recordWake records that t was woken, by the running task or, when none
// runs, by what the loop is doing.
func (s *Sched) recordWake(t *Task) {
	e := timeline.Event{Kind: timeline.Wake, Task: t.id, Name: t.name}
	if c := s.current; c != nil && c != t {
		e.Peer = c.id
	} else {
		e.Label = s.source
	}
	s.sink.Record(e)
}

// recordStep records the end of t's step, with the status it returned.
func (s *Sched) recordStep(t *Task, status Status) {
	how := int64(timeline.EndYield)
	switch {
	case status == Finish || t.flags&(done|doomed) != 0:
		how = timeline.EndFinish
	case t.flags&blocked != 0:
		how = timeline.EndBlock
	}
	s.sink.Record(timeline.Event{Kind: timeline.End, Task: t.id, Name: t.name, Arg: how})
}

// runStepsRecorded is RunSteps with a sink: the same loop, recording the
// start and end of every step. It is a copy rather than a check in
// RunSteps so that the loop without a sink pays nothing per step.
func (s *Sched) runStepsRecorded(n int, halt *atomic.Bool) (t *Task, status Status, left int) {
	for {
		for ; n > 0; n-- {
			t = s.ready.head
			if t == nil || halt.Load() {
				return nil, Yield, 0
			}
			s.sink.Record(timeline.Event{Kind: timeline.Start, Task: t.id, Name: t.name})
			s.current, s.budget = t, Budget
			s.stats.Steps++
			if t.resume != nil {
				s.stats.Switches++
				status = Finish
				if _, ok := t.resume(); ok {
					status = Yield
				}
			} else {
				status = t.step(t)
			}
			s.current = nil
			s.recordStep(t, status)
			if status != Yield || t.flags&doomed != 0 {
				return t, status, n - 1
			}
			if s.ready.head == t {
				s.ready.head = t.next
			}
		}
		if n = s.ready.n; n == 0 || len(s.timers.heap) > 0 || s.parked > 0 || s.posted.Load() {
			return nil, Yield, 0
		}
	}
}

// budgetSpent counts, and records, a yield the budget forces on t.
func (s *Sched) budgetSpent(t *Task) {
	s.stats.BudgetYields++
	if s.sink != nil {
		s.sink.Record(timeline.Event{Kind: timeline.Budget, Task: t.id, Name: t.name})
	}
}

// SetClosing tells the scheduler whether it is shutting down: ending every
// task that is left. What one of them held then passes to the next waiter,
// only to be given up when that one ends in turn; a recording leaves out
// those hand-overs, which no task ever used, so that a deadlock's timeline
// ends as the deadlock did, each task holding what it held.
func (s *Sched) SetClosing(on bool) { s.closing = on }

// recordHolding records that t took or gave up the resource r.
func (s *Sched) recordHolding(kind timeline.Kind, t *Task, r any) {
	name := "resource"
	switch r := r.(type) {
	case interface{ Name() string }:
		name = r.Name()
	case fmt.Stringer:
		name = r.String()
	}
	s.sink.Record(timeline.Event{Kind: kind, Task: t.id, Name: t.name, Label: name})
}
