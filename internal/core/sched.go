package core

import (
	"context"
	"slices"
	"sync/atomic"
	"time"

	"github.com/lwtask/lwtask/timeline"
)

// Sched is the state a scheduler's tasks share with its run loop: the ready
// list, the running task, the timers and the task table. The run loop
// itself is the scheduler package's.
type Sched struct {
	ready   readyList
	current *Task   // the task whose code is running, or nil
	budget  int     // operations left in current's turn; see Budget
	stack   []*Task // tasks whose code is suspended under current's: see End
	timers  timerHeap
	table   table
	lastID  uint64
	epoch   time.Time
	virtual bool            // the clock is vnow, not time since epoch
	vnow    atomic.Int64    // the virtual clock: other goroutines may read it (Time)
	base    context.Context // what scopes' contexts derive from; nil for context.Background
	retire  func(*Task)     // the scheduler's end of a killed task: see Kill

	// What RunSteps looks at between turns, besides timers: tasks parked
	// on the event source (its queues tally into parked, see Parked), and
	// work posted from other goroutines.
	parked int
	posted atomic.Bool

	// What others may see of the loop's work: see observe.go.
	stats Stats
	sink  timeline.Sink // nil: nothing is recorded
	// closing: the scheduler is ending the tasks left (SetClosing)
	closing bool
	source  string // what wakes a task while none runs: see SetSource
	clock   int64  // Now, as of the turn: see Tick
}

// Parked returns the count that the event source's queues keep of the tasks
// parked in them (core.Queue.Tally), which the run loop reads between turns.
func (s *Sched) Parked() *int { return &s.parked }

// Attaching event sources. A source of lwtask's own (fdqueue's) keeps its
// parked count where RunSteps reads it and refuses tasks of other
// schedulers; it registers, from its package's init, how it is attached
// to a scheduler, so that the method doing it need not be exported.
var attachers []func(source any, s *Sched) bool

// RegisterSource registers attach, which attaches a source of its kind to
// s and reports true, or reports false for a source of another kind.
func RegisterSource(attach func(source any, s *Sched) bool) {
	attachers = append(attachers, attach)
}

// Attach attaches source to s if a registered kind takes it, and reports
// whether one did.
func Attach(source any, s *Sched) bool {
	for _, attach := range attachers {
		if attach(source, s) {
			return true
		}
	}
	return false
}

// PollEveryTurn makes RunSteps return after every turn, for the run loop
// to poll its event source then: for a source that keeps no tally in
// Parked, of which RunSteps cannot tell whether a task waits on it. It
// counts as a task parked for good, which costs the loop no check of its
// own.
func (s *Sched) PollEveryTurn() { s.parked++ }

// Posted returns the flag that says work has been posted from another
// goroutine and not yet taken.
func (s *Sched) Posted() *atomic.Bool { return &s.posted }

// SetRetire sets what Kill does: the scheduler's end of a task, which also
// abandons what it holds and reports its panics.
func (s *Sched) SetRetire(f func(*Task)) { s.retire = f }

// Kill ends t the way the scheduler ends a killed task.
func (s *Sched) Kill(t *Task) { s.retire(t) }

// Init makes s ready for use.
func (s *Sched) Init() { s.epoch = time.Now() }

// Now returns the scheduler's clock: nanoseconds since Init, on the
// monotonic clock, so that a change of the wall clock moves no deadline;
// or, with a virtual clock, the time it has been moved to.
func (s *Sched) Now() int64 {
	if s.virtual {
		return s.vnow.Load()
	}
	return int64(time.Since(s.epoch))
}

// Time returns Now as a time.Time.
func (s *Sched) Time() time.Time { return s.epoch.Add(time.Duration(s.Now())) }

// SetVirtual gives s a virtual clock, which stands still until Advance
// moves it: tests of timeouts then take no time, and always the same. Call
// it before any task waits.
func (s *Sched) SetVirtual() {
	s.virtual = true
	s.vnow.Store(1) // past every deadline already past, which Deadline makes 1
}

// Virtual reports whether s's clock is virtual.
func (s *Sched) Virtual() bool { return s.virtual }

// Advance moves a virtual clock on to the earliest deadline, if that is
// later than now, as if the time until then had passed.
func (s *Sched) Advance() {
	if t := s.timers.earliest(); t != nil && t.deadline > s.vnow.Load() {
		s.vnow.Store(t.deadline)
	}
}

// Deadline converts a time to the scheduler's clock. The zero time means no
// deadline, 0; any other time is at least 1, so that a deadline already
// past still counts as one.
func (s *Sched) Deadline(d time.Time) int64 {
	if d.IsZero() {
		return 0
	}
	return max(1, int64(d.Sub(s.epoch)))
}

// Current returns the task whose code is running, or nil.
func (s *Sched) Current() *Task { return s.current }

// Len returns the number of live tasks.
func (s *Sched) Len() int { return len(s.table.tasks) }

// ReadyLen returns the number of tasks in the ready list.
func (s *Sched) ReadyLen() int { return s.ready.n }

// Timers returns the number of tasks in timed waits.
func (s *Sched) Timers() int { return len(s.timers.heap) }

// Schedule adds t to the tail of the ready list: the essay's schedule. A
// new task joins s here. It returns a reason not to, for the caller's
// panic, or "".
func (s *Sched) Schedule(t *Task) string {
	switch {
	case t.s != &unscheduled && t.s != s:
		return "it belongs to another scheduler"
	case t.flags&done != 0:
		return "it has finished"
	case t.flags&blocked != 0:
		return "it is blocked on " + t.WaitingFor()
	case t.next != nil:
		return "" // ready already: nothing to do
	}
	if t.s == &unscheduled {
		s.lastID++
		t.s, t.id = s, s.lastID
		s.table.add(t)
		s.stats.Created++
		if s.sink != nil {
			s.sink.Record(timeline.Event{Kind: timeline.Create, Task: t.id, Name: t.name})
		}
	}
	s.ready.push(t)
	s.stats.MaxReady = max(s.stats.MaxReady, s.ready.n)
	return ""
}

// Unschedule takes t out of the ready list: the essay's unschedule. It
// stays alive, idle, until it is scheduled again.
func (s *Sched) Unschedule(t *Task) {
	if t.s == s {
		s.ready.remove(t)
	}
}

// ExpireTimeslice moves t to the tail of the ready list if it is at the
// head: the essay's expire_timeslice.
func (s *Sched) ExpireTimeslice(t *Task) {
	if s.ready.head == t {
		s.ready.head = t.next
	}
}

// RunSteps gives up to n steps to the tasks at the head of the ready list,
// one each in turn: each runs to its next suspension point, with a fresh
// budget, and if it is still at the head afterwards it moves to the tail,
// the essay's run and expire_timeslice. It stops early, before any step
// when halt is set, and after one whose task finished or must be ended: it
// returns that task and its status, with how many of the n steps are left,
// for the caller to retire it and go on.
//
// This is the hottest loop of the runtime, so every step is written out
// here rather than called: a started generator is resumed directly, since
// every call level between the loop and the coroutine switch costs a
// mispredicted return each time control comes back from the coroutine's
// stack.
//
// When a turn is over and nothing else waits to be done between turns (no
// timer, no task parked on the event source, no posted work), it goes on
// with the next turn itself: a program of tasks that only talk to each
// other then never leaves this loop.
func (s *Sched) RunSteps(n int, halt *atomic.Bool) (t *Task, status Status, left int) {
	if s.sink != nil {
		return s.runStepsRecorded(n, halt)
	}
	// Counting costs the steps nothing: a turn's steps are counted as it
	// begins and the ones not taken are given back on the way out, so
	// that no count is held in a register that every step's call would
	// spill. A switch is counted beside the coroutine's resume, which
	// costs sixty times as much.
	s.stats.Steps += uint64(n)
	for {
		for ; n > 0; n-- {
			t = s.ready.head
			if t == nil || halt.Load() {
				s.stats.Steps -= uint64(n)
				return nil, Yield, 0
			}
			s.current, s.budget = t, Budget
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
			if status != Yield || t.flags&doomed != 0 {
				s.stats.Steps -= uint64(n - 1)
				return t, status, n - 1
			}
			if s.ready.head == t {
				s.ready.head = t.next
			}
		}
		if n = s.ready.n; n == 0 || len(s.timers.heap) > 0 || s.parked > 0 || s.posted.Load() {
			return nil, Yield, 0
		}
		s.stats.Steps += uint64(n)
	}
}

// FireTimers wakes every task whose deadline has passed, earliest first. A
// task waiting in queues gets ErrTimeout; a sleeper, nil.
func (s *Sched) FireTimers() {
	if len(s.timers.heap) == 0 {
		return
	}
	now := s.Now()
	for t := s.timers.earliest(); t != nil && t.deadline <= now; t = s.timers.earliest() {
		unshielded := t.flags&shielded == 0
		if unshielded && t.expire(now) && t.flags&blocked == 0 {
			continue // a scope's deadline passed, and its cancellation woke t
		}
		var err error
		if t.w.queued() {
			err = ErrTimeout
		}
		if s.sink != nil {
			s.sink.Record(timeline.Event{Kind: timeline.Timer, Task: t.id, Name: t.name})
		}
		if cerr := t.cancelled(); cerr != nil && unshielded {
			err = cerr
		}
		t.wake(-1, err)
	}
}

// NextDeadline returns how long until the earliest timer, 0 if it has
// passed, or -1 if there is none.
func (s *Sched) NextDeadline() time.Duration {
	t := s.timers.earliest()
	if t == nil {
		return -1
	}
	return max(0, time.Duration(t.deadline-s.Now()))
}

// End ends t for good, wherever it is. A generator-style task unwinds its
// body through its deferred calls, which run as if t were running, so that
// they may use t; any wait in them fails with ErrKilled. End returns a
// panic those calls raised, and leaves abandoning what t still holds to
// the caller (TakeHeld).
//
// A task whose code is on the stack cannot be unwound from under it: the
// running task, or one whose deferred calls are running because it is
// being ended, which have ended another and so on. Such a task is doomed
// instead: a generator-style task killing itself unwinds at once; any other
// unwinds at its next suspension point, or is ended by the run loop when
// its step returns.
func (s *Sched) End(t *Task) *Panic {
	if t.flags&done != 0 || (t.s != &unscheduled && t.s != s) {
		return nil
	}
	if s.OnStack(t) {
		t.flags |= doomed
		if t == s.current {
			t.unwindIfDoomed()
		}
		return nil
	}
	t.flags |= ending
	t.withdraw()
	t.flags &^= blocked
	s.ready.remove(t)
	if w := t.LastFired(); w != nil {
		// Woken by a primitive's waiter and ended before it took what
		// the wake-up brought: a channel's value goes back.
		if u, ok := w.Value.(Unclaimed); ok {
			u.Unclaimed()
		}
	}
	var p *Panic
	if t.stop != nil {
		s.stack = append(s.stack, s.current)
		s.current = t
		t.yield = yieldEnding // for Yield in deferred calls; the pending one returns false
		t.stop()
		s.current = s.stack[len(s.stack)-1]
		s.stack = s.stack[:len(s.stack)-1]
		p = t.TakeFault()
	}
	s.Finish(t)
	return p
}

// OnStack reports whether t's code is on the stack: it is the running task,
// or its code is suspended under the running task's (see End).
func (s *Sched) OnStack(t *Task) bool { return t == s.current || slices.Contains(s.stack, t) }

// Doom marks t, whose code is on the stack, to be ended at its next
// suspension point, or when its step returns, without unwinding it now.
func (s *Sched) Doom(t *Task) { t.flags |= doomed }

// Unclaimed is what a primitive's waiter record (Waiter.Value) implements
// to hear that the task it woke ended before it took what the wake-up
// brought it, such as a value handed to a receiver: it can hand it on.
type Unclaimed interface {
	Unclaimed()
}

// Finish removes t, whose step has returned Finish or which End has
// unwound, from the scheduler: the essay's unschedule of a finished task.
func (s *Sched) Finish(t *Task) {
	t.flags |= done | ending
	t.flags &^= blocked
	t.withdraw()
	s.ready.remove(t)
	s.table.remove(t)
	t.closeScopes()
	t.resume, t.step, t.yield, t.stop = nil, nil, nil, nil
}

// Unwound forgets the running task, and any whose code was suspended under
// it, once a panic has unwound the stack past them.
func (s *Sched) Unwound() {
	s.current = nil
	s.stack = s.stack[:0]
}

// Any returns some live task, or nil.
func (s *Sched) Any() *Task { return s.table.any() }

// Tasks calls f for every live task, in no particular order.
func (s *Sched) Tasks(f func(*Task)) {
	for _, t := range s.table.tasks {
		f(t)
	}
}

// readyList is the scheduler's ready list: a circular doubly linked list of
// tasks with no sentinel, head the front and head.prev the back. Moving the
// front to the back, which the run loop does after nearly every step, is a
// single pointer move.
type readyList struct {
	head *Task
	n    int
}

func (l *readyList) push(t *Task) {
	if l.head == nil {
		t.next, t.prev = t, t
		l.head = t
	} else {
		tail := l.head.prev
		t.prev, t.next = tail, l.head
		tail.next = t
		l.head.prev = t
	}
	l.n++
}

// remove takes t out of the list; it does nothing if t is not in it.
func (l *readyList) remove(t *Task) {
	if t.next == nil {
		return
	}
	if t.next == t {
		l.head = nil
	} else {
		t.prev.next = t.next
		t.next.prev = t.prev
		if l.head == t {
			l.head = t.next
		}
	}
	t.next, t.prev = nil, nil
	l.n--
}

// table is the set of a scheduler's live tasks, for task dumps, deadlock
// reports and ending every task at shutdown. Each task records its index,
// so adding and removing are O(1).
type table struct {
	tasks []*Task
}

func (tb *table) add(t *Task) {
	tb.tasks = append(tb.tasks, t)
	t.tableIndex = int32(len(tb.tasks))
}

func (tb *table) remove(t *Task) {
	i := int(t.tableIndex) - 1
	if i < 0 {
		return
	}
	last := len(tb.tasks) - 1
	moved := tb.tasks[last]
	tb.tasks[i] = moved
	moved.tableIndex = int32(i + 1)
	tb.tasks[last] = nil
	tb.tasks = tb.tasks[:last]
	t.tableIndex = 0
}

func (tb *table) any() *Task {
	if len(tb.tasks) == 0 {
		return nil
	}
	return tb.tasks[len(tb.tasks)-1]
}
