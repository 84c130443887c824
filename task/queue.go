package task

import "github.com/lwtask/lwtask/internal/core"

// A Queue is a FIFO of waiting tasks, labelled with what they wait for:
// the building block of every wait. Tasks join it with t.Wait(q) (or
// t.Block(q) in a raw step) and leave it in order, woken by q.Unblock,
// q.WakeAll, their deadline, Wake or their end.
//
// The zero Queue is empty and ready to use. Its one field, Label, is what
// task dumps and deadlock reports show a task waiting in it for (e.g.
// "fork 2", "doorbell"): NewQueue sets it, or set it before a task waits.
// (go doc does not list it, Queue being defined on core's type.)
// A Queue is intrusive: joining and leaving it are O(1) and allocate
// nothing. It must be used by the tasks of one scheduler only.
type Queue core.Queue

// NewQueue returns an empty queue labelled label.
func NewQueue(label string) *Queue { return &Queue{Label: label} }

func (q *Queue) core() *core.Queue { return (*core.Queue)(q) }

// Len returns the number of tasks waiting in q.
func (q *Queue) Len() int { return q.core().Len() }

// Front returns the task at the head of q, or nil if q is empty.
func (q *Queue) Front() *Task {
	if w := q.core().Front(); w != nil {
		return (*Task)(w.Task())
	}
	return nil
}

// Unblock wakes the task at the head of q, whose wait returns nil, and
// moves it to the tail of the ready list: the essay's unblock(queue). It
// returns the task, or nil if q is empty.
func (q *Queue) Unblock() *Task { return (*Task)(q.core().Unblock()) }

// WakeAll wakes every task in q, in order; their waits return err. It
// returns how many it woke.
func (q *Queue) WakeAll(err error) int { return q.core().WakeAll(err) }
