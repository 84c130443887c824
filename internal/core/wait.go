package core

// Every wait, of whatever kind (a queue, a descriptor, a utensil, a sleep,
// a select over several of these), goes through the same four steps:
//
//	BeginWait   check that t is the running task and may wait at all
//	Enqueue     put a waiter for t in each queue it waits in (none to sleep)
//	Suspend     take t out of the ready list, with a timer if it has a deadline
//	Park        (generator style) yield until woken, then report why
//
// A raw step calls the first three, returns Yield, and reads Result when it
// is next called. The waking side pops a waiter and Fires it, or Wakes the
// task; either way the task's other waiters and its timer are withdrawn at
// once, so a task is woken exactly once per wait.
//
// Keeping to one path is what makes teardown safe: a task that is being
// ended (killed, or its scheduler stopping) may still run deferred calls
// that wait, and BeginWait answers them with ErrKilled at once, so they
// never park the task, nor, worse, whichever other task is running.

// wait is a task's current wait: its waiters, and, once it is woken, why.
type wait struct {
	// The waiters of this wait: a plain wait has first only; a select
	// has more. Kept apart so that a plain wait, the common one, touches
	// no slice.
	first *Waiter
	more  []*Waiter
	w0    Waiter    // the task's first own waiter, the only one a plain wait needs
	own   []*Waiter // its further own waiters, made once each and reused: own[i] is its (i+2)-th in a wait
	nown  int       // own waiters in use in this wait

	since  int64   // when the wait began, on the scheduler's clock as of the turn (Sched.Tick)
	fired  int     // the case that woke the task; -1 for a timer or Wake
	firedW *Waiter // the waiter that woke it, if a primitive's own: see LastFired
	err    error   // what the wait returns
	tag    any     // what a raw step's wait was, for the step to find: see SetWaitTag
	space  any     // a package's own scratch space, reused from wait to wait: see Space
}

// Space returns a place where a package keeps scratch space of t's, such as
// a copy of a select's cases, reused from one wait to the next so that
// waiting allocates nothing.
func (t *Task) Space() *any {
	if t.w == nil {
		t.w = newWait()
	}
	return &t.w.space
}

// SetWaitTag marks t's wait, a raw step's, as tag's: the step's next call
// finds it with TakeWaitTag, and knows the wait it is back from.
func (t *Task) SetWaitTag(tag any) { t.w.tag = tag }

// TakeWaitTag returns and forgets the tag of t's last wait.
func (t *Task) TakeWaitTag() any {
	if t.w == nil {
		return nil
	}
	tag := t.w.tag
	t.w.tag = nil
	return tag
}

// BeginWait starts a wait of t. It panics if t is not the running task,
// and returns an error instead of waiting if t may not wait: ErrKilled if
// t is being ended, a *CanceledError if a scope it is in is cancelled. A
// task killed while its code was on the stack unwinds here instead.
func (t *Task) BeginWait(op string) error {
	if err := t.beginWait(op); err != nil {
		return err
	}
	return t.cancelled()
}

// BeginShielded is BeginWait for a wait that cancellation does not end, nor
// its scopes' deadlines shorten: a group waiting for its children, which a
// cancellation of the group's scope makes end soon anyway. Being ended
// still ends it.
func (t *Task) BeginShielded(op string) error {
	if err := t.beginWait(op); err != nil {
		return err
	}
	t.flags |= shielded
	return nil
}

func (t *Task) beginWait(op string) error {
	if t.s.current != t {
		t.notRunning(op)
	}
	if t.flags&(ending|doomed) != 0 {
		t.unwindIfDoomed()
		return ErrKilled
	}
	if t.w == nil {
		t.w = newWait()
	}
	return nil
}

// newWait makes a task's wait record. A generator-style task has one made
// before its coroutine starts (start), so that its first wait allocates
// nothing deep in the coroutine's small stack.
func newWait() *wait {
	return &wait{fired: -1, w0: Waiter{own: true}}
}

// BeginPark is BeginWait for a wait that will Park: it also panics, before
// anything is queued, if t is a raw step task, which cannot park.
func (t *Task) BeginPark(op string) error {
	if t.resume == nil && t.s.current == t {
		t.cannotPark(op)
	}
	return t.BeginWait(op)
}

// cannotPark panics for BeginPark with a raw step task. It is out of line
// so that BeginPark's frame, which every wait of a generator puts on its
// coroutine's small stack, stays small.
//
//go:noinline
func (t *Task) cannotPark(op string) {
	panic(&MisuseError{Op: op, Task: t.String(), Detail: "it is a raw step task: use the Block form and return Yield"})
}

// Enqueue appends a waiter for t to q, as the next case of its wait, and
// returns it. w is the caller's waiter, or nil for one of t's own.
func (t *Task) Enqueue(q *Queue, w *Waiter) *Waiter {
	n := 0
	if t.w.first != nil {
		n = 1 + len(t.w.more)
	}
	return t.EnqueueAs(q, w, n)
}

// EnqueueAs is Enqueue for case i of a select, whose cases need not all
// queue a waiter.
func (t *Task) EnqueueAs(q *Queue, w *Waiter, i int) *Waiter {
	tw := t.w
	if w == nil {
		switch i := tw.nown - 1; {
		case i < 0:
			w = &tw.w0
		case i < len(tw.own):
			w = tw.own[i]
		default:
			w = &Waiter{own: true}
			tw.own = append(tw.own, w)
		}
		tw.nown++
	}
	w.t = t
	w.Case = i
	if tw.first == nil {
		tw.first = w
	} else {
		tw.more = append(tw.more, w)
	}
	q.push(w)
	return w
}

// queued reports whether the wait has waiters in queues (rather than being
// a bare sleep).
func (tw *wait) queued() bool { return tw.first != nil }

// Suspend takes t out of the ready list until one of its waiters is fired,
// it is woken, or the deadline (on its scheduler's clock; 0 for none)
// passes.
func (t *Task) Suspend(deadline int64) {
	s := t.s
	s.ready.remove(t)
	t.flags |= blocked
	t.w.fired, t.w.err, t.w.firedW = -1, nil, nil
	if t.x != nil && t.flags&shielded == 0 {
		if d := t.scopeDeadline(); d != 0 && (deadline == 0 || d < deadline) {
			deadline = d
		}
	}
	if deadline != 0 {
		s.timers.add(t, deadline)
	}
	t.w.since = s.clock
	if s.sink != nil {
		s.recordBlock(t, deadline)
	}
}

// Park suspends a generator-style task, which BeginPark has let wait, and
// yields until it is woken. It returns the case that woke it (-1 for its
// deadline or Wake) and the error its wait returns.
func (t *Task) Park(deadline int64) (int, error) {
	t.Suspend(deadline)
	if !t.yield(struct{}{}) {
		panic(killed{})
	}
	return t.Result()
}

// Result returns and clears how t's last wait ended: the case that woke it
// (-1 if none) and the error its wait returns.
func (t *Task) Result() (int, error) {
	w := t.w
	if w == nil {
		return -1, nil
	}
	fired, err := w.fired, w.err
	w.fired, w.err = -1, nil
	return fired, err
}

// Wait is a whole wait on one queue: the form most waits take.
func (t *Task) Wait(op string, q *Queue, deadline int64) error {
	if err := t.BeginPark(op); err != nil {
		return err
	}
	t.Enqueue(q, nil)
	_, err := t.Park(deadline)
	return err
}

// Block is Wait for a raw step, which then returns Yield and finds what
// woke it with Result at its next step. With a nil q, t just sleeps until
// the deadline.
func (t *Task) Block(op string, q *Queue, deadline int64) error {
	if err := t.BeginWait(op); err != nil {
		return err
	}
	if q != nil {
		t.Enqueue(q, nil)
	}
	t.Suspend(deadline)
	return nil
}

// Fire wakes w's task, which has been popped from its queue: the task's
// other waiters and its timer are withdrawn, it goes to the tail of the
// ready list, and its wait reports w's case and err.
func (w *Waiter) Fire(err error) {
	t := w.t
	if !w.own {
		t.w.firedW = w
	}
	t.wake(w.Case, err)
}

// LastFired returns and forgets the waiter that ended t's last wait, if it
// was a primitive's own (Enqueue with a non-nil waiter): for a raw step to
// collect what was handed to it as it waited.
func (t *Task) LastFired() *Waiter {
	if t.w == nil {
		return nil
	}
	w := t.w.firedW
	t.w.firedW = nil
	return w
}

// Wake wakes t if it is blocked, wherever it waits; its wait reports no
// case and err (ErrInterrupted if err is nil). It reports whether t was
// blocked.
func (t *Task) Wake(err error) bool {
	if t.flags&blocked == 0 {
		return false
	}
	if err == nil {
		err = ErrInterrupted
	}
	t.wake(-1, err)
	return true
}

func (t *Task) wake(fired int, err error) {
	if t.flags&blocked == 0 {
		panic("core: wake of " + t.String() + ", which is not blocked")
	}
	t.withdraw()
	t.flags &^= blocked | shielded
	t.w.fired, t.w.err = fired, err
	s := t.s
	s.ready.push(t)
	s.stats.Wakeups++
	s.stats.MaxReady = max(s.stats.MaxReady, s.ready.n)
	if s.sink != nil && !s.closing { // a shutdown's wake-ups are not the program's: see SetClosing
		s.recordWake(t)
	}
}

// withdraw takes t's waiters out of their queues and t out of the timer
// heap. Its own waiters are free for its next wait.
func (t *Task) withdraw() {
	if t.timerIndex != 0 {
		t.s.timers.remove(t)
	}
	tw := t.w
	if tw == nil || tw.first == nil {
		return
	}
	if w := tw.first; w.q != nil {
		w.q.remove(w)
	}
	tw.first = nil
	for i, w := range tw.more {
		if w.q != nil {
			w.q.remove(w)
		}
		tw.more[i] = nil
	}
	tw.more = tw.more[:0]
	tw.nown = 0
}

// Budget is how many operations a task may complete without waiting in one
// turn before the next one yields first (Checkpoint, Spend). An operation
// is anything that could have waited: a read, a write, an accept, a
// channel or semaphore operation.
//
// Why 64: the cost of a forced yield is one switch, 60-90 ns for a
// generator task, so at 64 operations a turn it is a small fraction of even
// the cheapest operations (a buffered line read, ~20 ns) and below 1% of a
// request to the spam server (~1-2 µs of server time, 5 operations). A turn
// of 64 such requests lasts about 100 µs, which keeps the latency another
// connection sees under flood within the goroutine server's (measured in
// docs/benchmarks.md). tokio gives 128 to a whole task poll, which may hold
// several operations; trio yields at every I/O call, which costs a switch
// per operation.
const Budget = 64

// Checkpoint counts one operation of the generator-style task t against its
// turn; once the turn is spent, it yields first. It panics if t is not the
// running task, naming op. It returns t's cancellation, if a scope it is in
// is cancelled: every operation delivers it, as trio's checkpoints do, not
// only those that wait, so that a cancelled task whose operations never
// have to wait still stops.
func (t *Task) Checkpoint(op string) error {
	if t.s.current != t {
		t.notRunning(op)
	}
	if t.s.budget <= 0 {
		t.s.budgetSpent(t)
		t.Yield()
	}
	t.s.budget--
	if t.flags&scoped != 0 {
		return t.cancelled()
	}
	return nil
}

// CheckpointStep is Checkpoint for a raw step's operation: it counts the
// operation against the turn and returns ErrAgain, for the step to return
// Yield and try again, if the turn is spent; otherwise t's cancellation,
// if any, as Checkpoint does.
func (t *Task) CheckpointStep(op string) error {
	if !t.Spend(op) {
		return ErrAgain
	}
	if t.flags&scoped != 0 {
		return t.cancelled()
	}
	return nil
}

// Spend counts one operation of the raw step t against its turn and
// reports whether the turn had room for it. When it reports false the
// operation must not be done: the step returns Yield and tries again at
// its next turn. Operations use CheckpointStep, which also delivers t's
// cancellation.
func (t *Task) Spend(op string) bool {
	if t.s.current != t {
		t.notRunning(op)
	}
	if t.s.budget <= 0 {
		t.s.budgetSpent(t)
		return false
	}
	t.s.budget--
	return true
}
