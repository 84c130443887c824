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
	obj any       // the primitive: a *Chan[T], a *Queue
	arg any       // what the kind needs: where a received value goes, a ready func
	val any       // a send's record, holding its value
	at  time.Time // a timer's deadline
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
	ct.Checkpoint("Select")
	cases = scratch(ct, cases)
	defer dropCases(cases, &i)
	if i, err, ok := pollCases(t, cases); ok {
		return i, err
	}
	var deadline time.Time
	timer := -1
	for i := range cases {
		if _, ok := cases[i].op.(timerCase); ok && (timer < 0 || cases[i].at.Before(deadline)) {
			timer, deadline = i, cases[i].at
		}
	}
	for {
		if err := ct.BeginPark("Select"); err != nil {
			return -1, err
		}
		for i := range cases {
			cases[i].op.arm(&cases[i], t, i)
		}
		fired, err := ct.Park(ct.Deadline(deadline))
		for i := range cases {
			if i != fired {
				cases[i].op.disarm(&cases[i])
			}
		}
		switch {
		case fired >= 0:
			if done, err := cases[fired].op.fired(&cases[fired], t); done {
				return fired, err
			}
		case timer >= 0 && !time.Now().Before(deadline) && (err == nil || err == ErrTimeout):
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
// is ready.
func pollCases(t *Task, cases []Case) (int, error, bool) {
	n := len(cases)
	if n == 0 {
		return -1, nil, false
	}
	start := rand.IntN(n)
	for k := range n {
		i := (start + k) % n
		if ok, err := cases[i].op.poll(&cases[i], t); ok {
			return i, err, true
		}
	}
	return -1, nil, false
}

// SelectStep is Select for a raw step: it completes a ready case and
// returns its index, or returns ErrAgain, the task parked until one is
// ready (or its turn spent). The step returns Yield and at its next step
// calls SelectStep again with the same cases, which then completes the one
// that woke it. Other waits must not come in between.
func SelectStep(t *Task, cases ...Case) (i int, err error) {
	ct := t.core()
	cases = scratch(ct, cases)
	i = -1
	defer func() {
		if err != ErrAgain {
			dropCases(cases, &i)
		}
	}()
	if ct.TakeWaitTag() == &selectStepTag {
		fired, err := ct.Result()
		if fired < 0 || fired >= len(cases) {
			return -1, err
		}
		c := &cases[fired]
		c.w = ct.LastFired()
		if done, err := c.op.fired(c, t); done {
			return fired, err
		}
	}
	if !ct.Spend("SelectStep") {
		return -1, ErrAgain
	}
	if i, err, ok := pollCases(t, cases); ok {
		return i, err
	}
	if err := ct.BeginWait("SelectStep"); err != nil {
		return -1, err
	}
	ct.SetWaitTag(&selectStepTag)
	var deadline time.Time
	for i := range cases {
		if _, ok := cases[i].op.(timerCase); ok && (deadline.IsZero() || cases[i].at.Before(deadline)) {
			deadline = cases[i].at
		}
		cases[i].op.arm(&cases[i], t, i)
	}
	ct.Suspend(ct.Deadline(deadline))
	return -1, ErrAgain
}

// selectStepTag marks a raw step's wait as SelectStep's, for the next call
// to find.
var selectStepTag int

// After returns a Case that is ready once d has passed from now.
func After(d time.Duration) Case { return Until(time.Now().Add(d)) }

// Until returns a Case that is ready at deadline.
func Until(deadline time.Time) Case { return Case{op: timerCase{}, at: deadline} }

type timerCase struct{}

func (timerCase) poll(c *Case, _ *Task) (bool, error) { return !time.Now().Before(c.at), nil }
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
