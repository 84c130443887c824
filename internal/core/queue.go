package core

// A Waiter is one task's place in one wait queue. A task in a plain wait
// has one; a task in a select has one per case, each in its own queue, as
// the Go runtime has a sudog per channel a goroutine selects on. When any
// of them is woken, the task's other waiters are withdrawn from their
// queues at once (see Fire), so no queue keeps a stale waiter and no task
// is woken twice.
//
// Waiters are intrusive, so queueing and withdrawing one are O(1) and
// allocate nothing. A task reuses its own waiters from wait to wait; a
// primitive that must pass a value along with the wake-up (a channel)
// embeds a Waiter in a record of its own and points Value at it.
type Waiter struct {
	next, prev *Waiter // links in q
	q          *Queue  // the queue the waiter is in, or nil
	t          *Task
	Case       int // the position of this waiter among its task's current waiters
	own        bool
	Value      any // for the queue's owner: what travels with this waiter
}

// Task returns the task that waits.
func (w *Waiter) Task() *Task { return w.t }

// A Queue is a FIFO of waiters: the tasks waiting for one thing, such as a
// utensil, a descriptor, a channel. It is a circular doubly linked list
// with no sentinel: head is the front, head.prev the back. The zero Queue
// is empty and ready to use.
type Queue struct {
	// Label names what the queue's tasks wait for, e.g. "fork 2" or
	// "fd 5 read"; it appears in task dumps and deadlock reports.
	Label string

	head  *Waiter
	n     int32
	kind  QueueKind
	tally *int // if set, kept equal to the tasks in a group of queues (see Tally)
}

// QueueKind says what a queue's tasks wait for, for a timeline to show.
type QueueKind uint8

const (
	PlainQueue QueueKind = iota // a utensil, a group, a task.Queue
	ChanQueue                   // a channel's senders or receivers
	IOQueue                     // a descriptor's readers or writers
)

// SetKind says what q's tasks wait for; the zero Queue is a PlainQueue.
func (q *Queue) SetKind(k QueueKind) { q.kind = k }

func (q *Queue) label() string {
	if q.Label == "" {
		return "queue"
	}
	return q.Label
}

// Tally makes q keep *n up to date with its length changes, so that the
// owner of many queues (one per descriptor, say) knows at once how many
// tasks wait in all of them, however they leave: woken, timed out, killed
// or withdrawn from a select. Call it while q is empty.
func (q *Queue) Tally(n *int) { q.tally = n }

// Len returns the number of waiters in q.
func (q *Queue) Len() int { return int(q.n) }

// Front returns the waiter at the head of q, or nil.
func (q *Queue) Front() *Waiter { return q.head }

// push appends w to the tail of q.
func (q *Queue) push(w *Waiter) {
	if q.head == nil {
		w.next, w.prev = w, w
		q.head = w
	} else {
		tail := q.head.prev
		w.prev, w.next = tail, q.head
		tail.next = w
		q.head.prev = w
	}
	w.q = q
	q.n++
	if q.tally != nil {
		*q.tally++
	}
}

// remove takes w out of q; w must be in q.
func (q *Queue) remove(w *Waiter) {
	if w.next == w {
		q.head = nil
	} else {
		w.prev.next = w.next
		w.next.prev = w.prev
		if q.head == w {
			q.head = w.next
		}
	}
	w.next, w.prev, w.q = nil, nil, nil
	q.n--
	if q.tally != nil {
		*q.tally--
	}
}

// Pop removes and returns the waiter at the head of q, or nil. Its task is
// still waiting: hand it what it waits for, then Fire it.
func (q *Queue) Pop() *Waiter {
	w := q.head
	if w != nil {
		q.remove(w)
	}
	return w
}

// Unblock wakes the task at the head of q, whose wait returns nil: the
// essay's unblock(queue). It returns the task, or nil if q is empty.
func (q *Queue) Unblock() *Task {
	w := q.Pop()
	if w == nil {
		return nil
	}
	t := w.t // Fire recycles w
	w.Fire(nil)
	return t
}

// WakeAll wakes every task in q, whose waits return err, and returns how
// many there were.
func (q *Queue) WakeAll(err error) int {
	n := 0
	for w := q.Pop(); w != nil; w = q.Pop() {
		w.Fire(err)
		n++
	}
	return n
}
