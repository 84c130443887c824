package task

// A Queue is a FIFO of tasks: the scheduler's ready list, or a list of tasks
// blocked on something (a utensil, a descriptor). It is intrusive: the links
// live in the Task, so every operation is O(1) and allocates nothing, and a
// task is in at most one queue at a time.
//
// The list is circular and doubly linked with no sentinel: head is the front,
// head.prev the back. Moving the front to the back, the scheduler's most
// frequent operation, is then a single pointer move (Rotate).
//
// The zero Queue is an empty queue ready to use. Tasks are moved between
// queues by a scheduler (Block, Unblock); the mutating methods here are the
// building blocks for one, not for task code.
type Queue struct {
	// Label names what the queue's tasks wait for, e.g. "fork 2" or
	// "fd 5 read"; it appears in task dumps and deadlock reports.
	Label string

	head *Task
	n    int

	// runnable marks the scheduler's ready list: a task in it is ready,
	// in any other queue it is blocked.
	runnable bool

	// tally, if set, counts the tasks of a group of queues (see Tally).
	tally *int
}

// Tally makes q keep *n up to date with its length changes, so that the
// owner of many queues (one per descriptor, say) knows at once how many
// tasks wait in all of them, however the tasks leave: unblocked, timed out
// or killed. Call it while q is empty.
func (q *Queue) Tally(n *int) { q.tally = n }

// ReadyList returns an empty queue marked as a scheduler's ready list:
// tasks in it are ready, tasks in any other queue are blocked.
func ReadyList() Queue { return Queue{Label: "ready list", runnable: true} }

// Len returns the number of tasks in q.
func (q *Queue) Len() int { return q.n }

// Front returns the task at the head of q, or nil if q is empty.
func (q *Queue) Front() *Task { return q.head }

// PushBack appends t to the tail of q. It panics if t is already in a queue:
// that would be a scheduler bug, and silently relinking would corrupt both.
func (q *Queue) PushBack(t *Task) {
	if t.queue != nil {
		panic("task: " + t.String() + " pushed onto " + q.Label + " while in " + t.queue.Label)
	}
	if q.head == nil {
		t.next, t.prev = t, t
		q.head = t
	} else {
		tail := q.head.prev
		t.prev, t.next = tail, q.head
		tail.next = t
		q.head.prev = t
	}
	t.queue = q
	q.n++
	if q.tally != nil {
		*q.tally++
	}
}

// PopFront removes and returns the task at the head of q, or nil.
func (q *Queue) PopFront() *Task {
	t := q.head
	if t != nil {
		q.Remove(t)
	}
	return t
}

// Remove takes t out of q. It does nothing if t is not in q.
func (q *Queue) Remove(t *Task) {
	if t.queue != q {
		return
	}
	if t.next == t {
		q.head = nil
	} else {
		t.prev.next = t.next
		t.next.prev = t.prev
		if q.head == t {
			q.head = t.next
		}
	}
	t.next, t.prev, t.queue = nil, nil, nil
	q.n--
	if q.tally != nil {
		*q.tally--
	}
}

// Rotate moves the head of q to its tail.
func (q *Queue) Rotate() {
	if q.head != nil {
		q.head = q.head.next
	}
}

// Each calls f for every task in q, front to back. f must not change q.
func (q *Queue) Each(f func(*Task)) {
	if q.head == nil {
		return
	}
	t := q.head
	for {
		next := t.next
		f(t)
		if next == q.head {
			return
		}
		t = next
	}
}
