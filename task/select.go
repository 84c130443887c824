package task

import (
	"math/rand/v2"
	"time"

	"github.com/lwtask/lwtask/internal/core"
)

// A Case is one of the things a Select waits for: a channel's RecvCase or
// SendCase, a timer (After, Until), an Event's, a Semaphore's or a
// utensil's AcquireCase, a descriptor's (lwtask's Conn.LineCase, say), or
// a wait of task code's own (WaitCase). A Case is a small value; making one
// allocates nothing, and it is used by one Select.
type Case struct {
	op  caseOp
	obj any           // the primitive: a *Chan[T], a *Queue
	arg any           // what the kind needs: where a received value goes, a ready func
	val any           // a send's record, holding its value
	at  time.Time     // a timer's deadline
	in  time.Duration // a timer's time from the start of the Select, if at is not given
	w   *core.Waiter
}

// caseOp is what Select does with each kind of case. Its implementations
// are empty structs, so a Case holds one with no allocation.
type caseOp interface {
	// poll completes the case now if it can, and reports whether it did.
	poll(c *Case, t *Task) (bool, error)
	// arm queues a waiter for t as case i.
	arm(c *Case, t *Task, i int)
	// fired completes the case whose waiter woke t, and reports whether
	// it did: false means it was not really ready, and Select waits again.
	fired(c *Case, t *Task) (bool, error)
	// disarm releases what arm took, for a case that did not fire.
	disarm(c *Case)
	// drop releases what making the case took, for a case that did not
	// complete, as the Select that had it returns.
	drop(c *Case)
}

// Select waits until one of cases is ready, completes it, and returns its
// index: Go's select, libtask's alt. If several are ready at once it picks
// one at random, as Go does, so that none is starved. A case that loses is
// withdrawn exactly: no value is taken from a channel or given to one, no
// utensil or permit is taken, and nothing is left in any queue.
//
// The error is the completed case's own (ErrChanClosed for a receive or a
// send on a closed channel), or, with index -1, why the wait ended with no
// case: the task's cancellation, or ErrKilled. A timer case completes with
// no error.
func Select(t *Task, cases ...Case) (i int, err error) {
	ct := t.core()
	cerr := ct.Checkpoint("Select")
	// A variable of its own: assigning the copy to cases would make the
	// caller's slice escape too, and allocate at every call.
	cs := scratch(ct, cases)
	i = -1 // until a case completes: a Select unwound by its task's end drops them all
	defer dropCases(cs, &i)
	if cerr != nil {
		return -1, cerr
	}
	if i, err, ok := pollCases(t, cs, -1); ok {
		return i, err
	}
	var deadline time.Time
	timer := -1
	for i := range cs {
		if _, ok := cs[i].op.(timerCase); ok && (timer < 0 || cs[i].at.Before(deadline)) {
			timer, deadline = i, cs[i].at
		}
	}
	for {
		if err := ct.BeginPark("Select"); err != nil {
			return -1, err
		}
		for i := range cs {
			cs[i].op.arm(&cs[i], t, i)
		}
		fired, err := ct.Park(ct.Deadline(deadline))
		ct.LastFired() // the fired case is taken below: not unclaimed if t ends later
		for i := range cs {
			if i != fired {
				cs[i].op.disarm(&cs[i])
			}
		}
		switch {
		case fired >= 0:
			if done, err := cs[fired].op.fired(&cs[fired], t); done {
				return fired, err
			}
			// A false alarm: another case may have become ready while the
			// task was woken, its waiter withdrawn; look before waiting.
			if i, err, ok := pollCases(t, cs, fired); ok {
				return i, err
			}
		case timer >= 0 && !t.Now().Before(deadline) && (err == nil || err == ErrTimeout):
			return timer, nil
		default:
			return -1, err
		}
	}
}

// scratch copies the cases given to a Select into t's own space, where
// they are worked on. The cases' methods take pointers through an
// interface, which would make the caller's slice escape to the heap at
// every call; the copy keeps it on the caller's stack, and t's space is
// reused from one Select to the next.
func scratch(t *core.Task, given []Case) []Case {
	sp := t.Space()
	cases, _ := (*sp).(*[]Case)
	if cases == nil {
		cases = new([]Case)
		*sp = cases
	}
	if cap(*cases) < len(given) {
		*cases = make([]Case, len(given))
	}
	*cases = (*cases)[:len(given)]
	copy(*cases, given)
	for i := range *cases {
		if c := &(*cases)[i]; c.in != 0 {
			c.at, c.in = t.Time().Add(c.in), 0 // After: from now
		}
	}
	return *cases
}

// dropCases releases what the cases that did not complete took, and clears
// them, so that t's space keeps nothing alive.
func dropCases(cases []Case, done *int) {
	for i := range cases {
		if i != *done {
			cases[i].op.drop(&cases[i])
		}
	}
	clear(cases)
}

// pollCases tries the cases in a random order and completes the first that
// is ready: in a uniformly random order, as Go's select does (a random
// start alone would favour a ready case that follows unready ones), for up
// to 16 cases; beyond, from a random start. It skips case skip, if not -1,
// which was just found not ready.
func pollCases(t *Task, cases []Case, skip int) (int, error, bool) {
	n := len(cases)
	if n > len(pollOrder{}) {
		i := rand.IntN(n)
		for range n {
			if i != skip {
				if ok, err := cases[i].op.poll(&cases[i], t); ok {
					return i, err, true
				}
			}
			if i++; i == n {
				i = 0
			}
		}
		return -1, nil, false
	}
	var order pollOrder
	for i := range n { // Fisher-Yates, inside out
		j := int(uint64(rand.Uint32()) * uint64(i+1) >> 32) // in [0, i], with no division
		order[i] = order[j]
		order[j] = uint8(i)
	}
	for _, i := range order[:n] {
		if int(i) == skip {
			continue
		}
		if ok, err := cases[i].op.poll(&cases[i], t); ok {
			return int(i), err, true
		}
	}
	return -1, nil, false
}

type pollOrder [16]uint8

// SelectStep is Select for a raw step: it completes a ready case and
// returns its index, or returns ErrAgain, the task parked until one is
// ready (or its turn spent). The step returns Yield and at its next step
// calls SelectStep again with the same cases, which then completes the one
// that woke it. Other waits must not come in between.
func SelectStep(t *Task, cases ...Case) (i int, err error) {
	ct := t.core()
	back := ct.TakeWaitTag() == &selectStepTag
	fired, werr := -1, error(nil)
	timer, deadline := -1, time.Time{}
	if back {
		fired, werr = ct.Result()
		timer, deadline = disarmLast(ct, fired)
	}
	cs := scratch(ct, cases) // see Select
	i = -1
	armed := false // kept for the next call, which completes them
	defer func() {
		if !armed {
			dropCases(cs, &i)
		}
	}()
	if back {
		err := werr
		if fired < 0 || fired >= len(cs) {
			// Woken by no case: its timer case, if that is due, or
			// whatever ended the wait.
			if timer >= 0 && !t.Now().Before(deadline) && (err == nil || err == ErrTimeout) {
				return timer, nil
			}
			return -1, err
		}
		c := &cs[fired]
		c.w = ct.LastFired()
		if done, err := c.op.fired(c, t); done {
			return fired, err
		}
	}
	if err := ct.CheckpointStep("SelectStep"); err != nil {
		return -1, err
	}
	if i, err, ok := pollCases(t, cs, -1); ok {
		return i, err
	}
	if err := ct.BeginWait("SelectStep"); err != nil {
		return -1, err
	}
	ct.SetWaitTag(&selectStepTag)
	var until time.Time
	for i := range cs {
		if _, ok := cs[i].op.(timerCase); ok && (until.IsZero() || cs[i].at.Before(until)) {
			until = cs[i].at
		}
		cs[i].op.arm(&cs[i], t, i)
	}
	ct.Suspend(ct.Deadline(until))
	armed = true
	return -1, ErrAgain
}

// selectStepTag marks a raw step's wait as SelectStep's, for the next call
// to find.
var selectStepTag int

// disarmLast releases what the cases of t's last SelectStep took, but for
// the one that fired, now that its wait is over: they are still in t's
// space, as that call armed them, until this call's cases replace them. A
// Select disarms its cases after its wait; a SelectStep can only do so at
// its next call. Without this, the records a channel's cases had waited
// with would be lost, and made anew at the next wait.
//
// It returns the earliest timer case of those it armed, and its deadline:
// the next call's own cases may compute theirs anew (After).
func disarmLast(t *core.Task, fired int) (timer int, deadline time.Time) {
	timer = -1
	last, _ := (*t.Space()).(*[]Case)
	if last == nil {
		return timer, deadline
	}
	for i := range *last {
		c := &(*last)[i]
		if _, ok := c.op.(timerCase); ok && (timer < 0 || c.at.Before(deadline)) {
			timer, deadline = i, c.at
		}
		if i != fired && c.op != nil {
			c.op.disarm(c)
			c.op.drop(c)
		}
	}
	return timer, deadline
}

// After returns a Case that is ready once d has passed from the start of
// the Select, on the task's clock (virtual, if its runtime's is). With d
// at most 0 it is ready at once: the Select does not wait (it may still
// take another case that is ready too, as it picks among ready cases at
// random).
func After(d time.Duration) Case {
	if d <= 0 {
		return Until(longAgo)
	}
	return Case{op: timerCase{}, in: d}
}

// longAgo is a deadline that has passed on every clock, virtual or not.
var longAgo = time.Unix(0, 0)

// Until returns a Case that is ready at deadline.
func Until(deadline time.Time) Case { return Case{op: timerCase{}, at: deadline} }

type timerCase struct{}

func (timerCase) poll(c *Case, t *Task) (bool, error) { return !t.Now().Before(c.at), nil }
func (timerCase) arm(*Case, *Task, int)               {}
func (timerCase) fired(*Case, *Task) (bool, error)    { return true, nil }
func (timerCase) disarm(*Case)                        {}
func (timerCase) drop(*Case)                          {}

// RecvCase returns a Case that receives a value from c into *dst. On a
// closed, drained channel it completes with ErrChanClosed.
func (c *Chan[T]) RecvCase(dst *T) Case { return Case{op: recvCase[T]{}, obj: c, arg: dst} }

type recvCase[T any] struct{}

func (recvCase[T]) poll(cs *Case, _ *Task) (bool, error) {
	v, ok, err := cs.obj.(*Chan[T]).TryRecv()
	if ok {
		*cs.arg.(*T) = v
	}
	return ok || err != nil, err
}

func (recvCase[T]) arm(cs *Case, t *Task, i int) {
	c := cs.obj.(*Chan[T])
	cw := c.waiter()
	cw.recv = true // a value handed to it goes back if t ends first: see Unclaimed
	cs.w = t.core().EnqueueAs(c.recvq.core(), &cw.w, i)
}

func (recvCase[T]) fired(cs *Case, _ *Task) (bool, error) {
	c := cs.obj.(*Chan[T])
	v, err := c.received(cs.w.Value.(*chanWaiter[T]), nil)
	if err == nil {
		*cs.arg.(*T) = v
	}
	cs.w = nil
	return true, err
}

func (recvCase[T]) disarm(cs *Case) {
	if cs.w != nil {
		cs.obj.(*Chan[T]).release(cs.w.Value.(*chanWaiter[T]))
		cs.w = nil
	}
}

func (recvCase[T]) drop(*Case) {}

// SendCase returns a Case that sends v on c. On a closed channel it
// completes with ErrChanClosed.
func (c *Chan[T]) SendCase(v T) Case {
	cw := c.waiter() // holds v from now on, so that the Case need not box it
	cw.val = v
	return Case{op: sendCase[T]{}, obj: c, val: cw}
}

type sendCase[T any] struct{}

func (sendCase[T]) poll(cs *Case, _ *Task) (bool, error) {
	cw := cs.val.(*chanWaiter[T])
	ok, err := cs.obj.(*Chan[T]).TrySend(cw.val)
	if ok || err != nil {
		cs.obj.(*Chan[T]).release(cw)
		cs.val = nil
	}
	return ok || err != nil, err
}

func (sendCase[T]) arm(cs *Case, t *Task, i int) {
	c := cs.obj.(*Chan[T])
	cs.w = t.core().EnqueueAs(c.sendq.core(), &cs.val.(*chanWaiter[T]).w, i)
}

func (sendCase[T]) fired(cs *Case, _ *Task) (bool, error) {
	c, cw := cs.obj.(*Chan[T]), cs.w.Value.(*chanWaiter[T])
	if cw != cs.val { // a SelectStep's: the record that waited was the last call's
		sendCase[T]{}.drop(cs)
	}
	err := c.sent(cw, nil)
	cs.w, cs.val = nil, nil
	return true, err
}

// disarm keeps the record, which holds the value for another try if the
// Select waits again; drop releases it once the Select is over.
func (sendCase[T]) disarm(cs *Case) { cs.w = nil }

func (sendCase[T]) drop(cs *Case) {
	if cw, ok := cs.val.(*chanWaiter[T]); ok {
		cs.obj.(*Chan[T]).release(cw)
		cs.val = nil
	}
}

// WaitCase returns a Case for a wait of task code's own in q, for a
// condition: ready reports whether it holds, and completes the case (it
// reads what is there, say). ready is called first, and again each time q
// wakes the task, and the Select waits in q until it reports true. A
// descriptor's case is made this way. ready should be a function made
// once, not a closure made for each Case, which would allocate.
func WaitCase(q *Queue, ready func(t *Task) bool) Case {
	return Case{op: queueCase{recheck: true}, obj: q, arg: ready}
}

// HandOffCase returns a Case for a resource whose waiters are handed it in
// turn by q.Unblock, as a utensil's or a semaphore's are: take takes it for
// the task if it is free now, and reports whether it did; if not, the
// Select waits in q, and being unblocked from q means the task holds it.
func HandOffCase(q *Queue, take func(t *Task) bool) Case {
	return Case{op: queueCase{}, obj: q, arg: take}
}

type queueCase struct{ recheck bool }

func (queueCase) poll(c *Case, t *Task) (bool, error) { return c.arg.(func(*Task) bool)(t), nil }

func (queueCase) arm(c *Case, t *Task, i int) {
	c.w = t.core().EnqueueAs(c.obj.(*Queue).core(), nil, i)
}

func (k queueCase) fired(c *Case, t *Task) (bool, error) {
	c.w = nil
	return !k.recheck || c.arg.(func(*Task) bool)(t), nil
}

func (queueCase) disarm(c *Case) { c.w = nil }
func (queueCase) drop(*Case)     {}
