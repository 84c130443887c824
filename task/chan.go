package task

import (
	"errors"
	"iter"
	"time"

	"github.com/lwtask/lwtask/internal/core"
)

// ErrChanClosed is returned by a send on a closed channel, and by a receive
// from a closed channel once everything sent before the close has been
// received.
var ErrChanClosed = errors.New("channel closed")

// ErrAgain is returned by the step forms of operations, for raw steps,
// when the operation could not complete without suspending the task: the
// task has been parked until it can, or its turn is spent. The step returns
// Yield and calls the same operation again at its next step.
var ErrAgain = core.ErrAgain

// Chan is a channel between the tasks of one scheduler, of values of type
// T: libtask's Channel, trio's memory channel, Go's chan for tasks.
// Unbuffered (capacity 0), a send waits for a receiver and hands the value
// straight to it; with a capacity, sends wait only while the buffer is
// full. Waiting senders and receivers are served first come, first served.
//
// Close works as Go's close: receivers drain what is left, then get
// ErrChanClosed; a send on a closed channel fails with ErrChanClosed
// rather than panicking. Every operation that could wait takes the running
// task, counts against its turn, and ends early with the task's
// cancellation, its deadline, or its end (ErrKilled).
//
// The zero Chan is not usable; call NewChan. A Chan allocates nothing per
// operation once its waiting records have been made.
type Chan[T any] struct {
	buf      []T // a ring of len(buf) slots; n of them, from head, hold values
	head     int
	n        int
	closed   bool
	recvq    Queue
	sendq    Queue
	free     []*chanWaiter[T]
	returned []T // values handed to receivers that ended before they took them, first out
}

// chanWaiter is one task's place in a channel's queue, with the value it
// sends or the one handed to it.
type chanWaiter[T any] struct {
	w      core.Waiter
	c      *Chan[T]
	val    T
	done   bool // the value was handed over
	closed bool // the channel closed first
	recv   bool // a receiver's record: done means a value was handed to it
}

// Unclaimed is called (core.Unclaimed) when the task that waited with cw
// ended before it took what its wake-up brought: a value handed to a
// receiver killed before it ran goes back to the channel, for the next
// receiver, so that nothing sent is lost.
//
// Only a receiver's record is released here. A sender's belongs to what
// made it: a SendCase's is dropped by its Select as that unwinds, and a
// Send's, unwound past the call that would release it, is left to the
// collector. Releasing it here as well put it in the free list twice.
func (cw *chanWaiter[T]) Unclaimed() {
	if !cw.recv {
		return
	}
	c := cw.c
	if cw.done {
		if ok, _ := c.handTo(cw.val); !ok {
			c.returned = append(c.returned, cw.val)
		}
	}
	c.release(cw)
}

// NewChan returns a channel with room for capacity values (0 for an
// unbuffered one), labelled label in task dumps.
func NewChan[T any](label string, capacity int) *Chan[T] {
	if capacity < 0 {
		panic("task: NewChan with a negative capacity")
	}
	c := &Chan[T]{
		buf:   make([]T, capacity),
		recvq: Queue{Label: label + " receive"},
		sendq: Queue{Label: label + " send"},
	}
	c.recvq.core().SetKind(core.ChanQueue)
	c.sendq.core().SetKind(core.ChanQueue)
	return c
}

// Len returns the number of values buffered.
func (c *Chan[T]) Len() int { return c.n + len(c.returned) }

// Cap returns the capacity of the buffer.
func (c *Chan[T]) Cap() int { return len(c.buf) }

// Closed reports whether c has been closed.
func (c *Chan[T]) Closed() bool { return c.closed }

// Send sends v, waiting while nobody can take it: no receiver waits and the
// buffer, if any, is full.
func (c *Chan[T]) Send(t *Task, v T) error { return c.SendUntil(t, v, time.Time{}) }

// SendUntil is Send with a deadline, past which it fails with ErrTimeout
// and v is not sent. The zero time means none.
func (c *Chan[T]) SendUntil(t *Task, v T, deadline time.Time) error {
	ct := t.core()
	if err := ct.Checkpoint("Send"); err != nil {
		return err
	}
	if ok, err := c.TrySend(v); ok || err != nil {
		return err
	}
	if err := ct.BeginPark("Send"); err != nil {
		return err
	}
	cw := c.waiter()
	cw.val = v
	ct.Enqueue(c.sendq.core(), &cw.w)
	_, err := ct.Park(ct.Deadline(deadline))
	ct.LastFired() // taken here: not unclaimed if t ends later
	return c.sent(cw, err)
}

// sent reports how a send that waited ended, and puts its record back.
func (c *Chan[T]) sent(cw *chanWaiter[T], err error) error {
	switch {
	case cw.done:
		err = nil
	case cw.closed:
		err = ErrChanClosed
	}
	c.release(cw)
	return err
}

// TrySend sends v if it can without waiting, and reports whether it did.
// It fails with ErrChanClosed on a closed channel. It takes no task, so a
// function posted from another goroutine may call it too.
func (c *Chan[T]) TrySend(v T) (bool, error) {
	switch {
	case c.closed:
		return false, ErrChanClosed
	case c.recvq.Len() > 0:
		return c.handTo(v)
	case c.n < len(c.buf):
		c.buf[c.slot(c.n)] = v
		c.n++
		return true, nil
	}
	return false, nil
}

// slot returns the index in buf of the i-th value from head, i <= n. The
// ring wraps by subtraction: a division (%) would be the dearest
// instruction of a buffered send or receive.
func (c *Chan[T]) slot(i int) int {
	if i += c.head; i >= len(c.buf) {
		i -= len(c.buf)
	}
	return i
}

// SendStep is Send for a raw step. It returns nil once v is sent, or
// ErrAgain when the task has been parked until v can be sent (or its turn
// is spent): the step returns Yield and, at its next step, calls SendStep
// again with the same value, which then reports how the send ended. Other
// waits must not come in between.
func (c *Chan[T]) SendStep(t *Task, v T) error {
	ct := t.core()
	if cw, handed, err := c.stepBack(ct); cw != nil {
		if handed {
			return c.sent(cw, err)
		}
		c.release(cw) // woken otherwise: v was not sent
		if err != nil {
			return err
		}
	}
	if err := ct.CheckpointStep("SendStep"); err != nil {
		return err
	}
	if ok, err := c.TrySend(v); ok || err != nil {
		return err
	}
	if err := ct.BeginWait("SendStep"); err != nil {
		return err
	}
	cw := c.waiter()
	cw.val = v
	ct.Enqueue(c.sendq.core(), &cw.w)
	ct.Suspend(0)
	ct.SetWaitTag(cw)
	return ErrAgain
}

// Recv receives a value, waiting while there is none. Once c is closed and
// drained it fails with ErrChanClosed.
func (c *Chan[T]) Recv(t *Task) (T, error) { return c.RecvUntil(t, time.Time{}) }

// RecvUntil is Recv with a deadline, past which it fails with ErrTimeout.
// The zero time means none.
func (c *Chan[T]) RecvUntil(t *Task, deadline time.Time) (T, error) {
	ct := t.core()
	if err := ct.Checkpoint("Recv"); err != nil {
		var zero T
		return zero, err
	}
	if v, ok, err := c.TryRecv(); ok || err != nil {
		return v, err
	}
	var zero T
	if err := ct.BeginPark("Recv"); err != nil {
		return zero, err
	}
	cw := c.waiter()
	cw.recv = true
	ct.Enqueue(c.recvq.core(), &cw.w)
	_, err := ct.Park(ct.Deadline(deadline))
	ct.LastFired() // taken here: not unclaimed if t ends later
	return c.received(cw, err)
}

// received reports how a receive that waited ended, and puts its record
// back.
func (c *Chan[T]) received(cw *chanWaiter[T], err error) (v T, _ error) {
	switch {
	case cw.done:
		v, err = cw.val, nil
	case cw.closed:
		err = ErrChanClosed
	}
	c.release(cw)
	return v, err
}

// TryRecv receives a value if there is one without waiting, and reports
// whether it did. On a closed, drained channel it fails with ErrChanClosed.
// It takes no task, so a function posted from another goroutine may call
// it too.
func (c *Chan[T]) TryRecv() (v T, ok bool, err error) {
	if len(c.returned) > 0 {
		v = c.returned[0]
		c.returned = c.returned[1:]
		return v, true, nil
	}
	if c.n > 0 {
		v = c.buf[c.head]
		var zero T
		c.buf[c.head] = zero
		c.head = c.slot(1)
		c.n--
		// A waiting sender's value takes the freed slot, in order. (Len
		// first: it saves the call to Pop when, as mostly, none waits.)
		if c.sendq.Len() > 0 {
			w := c.sendq.core().Pop()
			cw := w.Value.(*chanWaiter[T])
			c.buf[c.slot(c.n)] = cw.val
			c.n++
			cw.done = true
			w.Fire(nil)
		}
		return v, true, nil
	}
	if c.sendq.Len() > 0 { // unbuffered: take it from the sender
		w := c.sendq.core().Pop()
		cw := w.Value.(*chanWaiter[T])
		v, cw.done = cw.val, true
		w.Fire(nil)
		return v, true, nil
	}
	if c.closed {
		return v, false, ErrChanClosed
	}
	return v, false, nil
}

// RecvStep is Recv for a raw step. It returns a value, or ErrAgain when
// the task has been parked until one comes (or its turn is spent): the step
// returns Yield and, at its next step, calls RecvStep again, which then
// returns the value handed to it meanwhile. Other waits must not come in
// between.
func (c *Chan[T]) RecvStep(t *Task) (T, error) {
	ct := t.core()
	var zero T
	if cw, handed, err := c.stepBack(ct); cw != nil {
		if handed {
			return c.received(cw, err)
		}
		c.release(cw)
		if err != nil {
			return zero, err
		}
	}
	if err := ct.CheckpointStep("RecvStep"); err != nil {
		return zero, err
	}
	if v, ok, err := c.TryRecv(); ok || err != nil {
		return v, err
	}
	if err := ct.BeginWait("RecvStep"); err != nil {
		return zero, err
	}
	cw := c.waiter()
	cw.recv = true
	ct.Enqueue(c.recvq.core(), &cw.w)
	ct.Suspend(0)
	ct.SetWaitTag(cw)
	return zero, ErrAgain
}

// stepBack returns the record a raw step's last call parked t with on c, if
// that is what t's last wait was, with whether a value (or the close) was
// handed to it by its wake-up, and the wait's error.
func (c *Chan[T]) stepBack(t *core.Task) (cw *chanWaiter[T], handed bool, err error) {
	cw, ok := t.TakeWaitTag().(*chanWaiter[T])
	if !ok || cw.c != c {
		return nil, false, nil
	}
	handed = t.LastFired() == &cw.w
	_, err = t.Result()
	return cw, handed, err
}

// All returns an iterator over the values received by t until c is closed
// and drained, or a receive fails: for v := range c.All(t) { ... }. The
// error that ended it, if not the close, is left in *err when err is not
// nil.
func (c *Chan[T]) All(t *Task, err *error) iter.Seq[T] {
	return func(yield func(T) bool) {
		for {
			v, e := c.Recv(t)
			if e != nil {
				if err != nil && e != ErrChanClosed {
					*err = e
				}
				return
			}
			if !yield(v) {
				return
			}
		}
	}
}

// Close closes c. Receivers get what is buffered, then ErrChanClosed;
// every waiting sender and receiver is woken. Closing a closed channel
// returns ErrChanClosed. Any task, or a posted function, may close it.
func (c *Chan[T]) Close() error {
	if c.closed {
		return ErrChanClosed
	}
	c.closed = true
	for _, q := range []*core.Queue{c.recvq.core(), c.sendq.core()} {
		for w := q.Pop(); w != nil; w = q.Pop() {
			w.Value.(*chanWaiter[T]).closed = true
			w.Fire(nil)
		}
	}
	return nil
}

// waiter returns a fresh waiting record for c, from its spares if it has
// one: so that waiting allocates nothing once c has as many as its most
// waiters at once.
func (c *Chan[T]) waiter() *chanWaiter[T] {
	if n := len(c.free); n > 0 {
		cw := c.free[n-1]
		c.free = c.free[:n-1]
		return cw
	}
	cw := &chanWaiter[T]{c: c}
	cw.w.Value = cw
	return cw
}

// release puts back a record whose wait has ended.
func (c *Chan[T]) release(cw *chanWaiter[T]) {
	var zero T
	cw.val, cw.done, cw.closed, cw.recv = zero, false, false, false
	c.free = append(c.free, cw)
}

// handTo hands v straight to the first waiting receiver, if there is one.
func (c *Chan[T]) handTo(v T) (bool, error) {
	w := c.recvq.core().Pop()
	if w == nil {
		return false, nil
	}
	cw := w.Value.(*chanWaiter[T])
	cw.val, cw.done = v, true
	w.Fire(nil)
	return true, nil
}
