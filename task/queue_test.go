package task

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newTasks returns n raw step tasks named by letter, with IDs 1..n.
func newTasks(n int) []*Task {
	ts := make([]*Task, n)
	for i := range ts {
		ts[i] = NewStep(string(rune('a'+i%26)), nil)
		ts[i].Bind(nil, uint64(i+1))
	}
	return ts
}

// contents lists q front to back, checking the links both ways as it goes.
func contents(t *testing.T, q *Queue) []*Task {
	t.Helper()
	var got []*Task
	q.Each(func(x *Task) { got = append(got, x) })
	if len(got) != q.Len() {
		t.Fatalf("Each visited %d tasks, Len is %d", len(got), q.Len())
	}
	if len(got) == 0 {
		if q.Front() != nil {
			t.Fatalf("empty queue has Front %v", q.Front())
		}
		return got
	}
	if q.Front() != got[0] {
		t.Fatalf("Front is %v, Each began with %v", q.Front(), got[0])
	}
	for i, x := range got {
		if x.Queue() != q {
			t.Fatalf("%v in q does not point back to it", x)
		}
		if x.next != got[(i+1)%len(got)] || x.prev != got[(i+len(got)-1)%len(got)] {
			t.Fatalf("links of %v are inconsistent", x)
		}
	}
	return got
}

func assertQueue(t *testing.T, q *Queue, want ...*Task) {
	t.Helper()
	if got := contents(t, q); !slices.Equal(got, want) {
		t.Fatalf("queue is %v, want %v", got, want)
	}
}

func TestQueueFIFO(t *testing.T) {
	ts := newTasks(4)
	var q Queue
	assertQueue(t, &q)
	if q.PopFront() != nil {
		t.Fatal("PopFront of an empty queue returned a task")
	}
	for _, x := range ts {
		q.PushBack(x)
	}
	assertQueue(t, &q, ts...)
	for i, x := range ts {
		if got := q.PopFront(); got != x {
			t.Fatalf("pop %d: got %v, want %v", i, got, x)
		}
		if x.Queue() != nil {
			t.Fatalf("popped %v still records a queue", x)
		}
		assertQueue(t, &q, ts[i+1:]...)
	}
}

func TestQueueRemove(t *testing.T) {
	for _, tc := range []struct {
		name   string
		remove int
	}{{"head", 0}, {"middle", 2}, {"tail", 4}} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTasks(5)
			var q Queue
			for _, x := range ts {
				q.PushBack(x)
			}
			q.Remove(ts[tc.remove])
			want := slices.Delete(slices.Clone(ts), tc.remove, tc.remove+1)
			assertQueue(t, &q, want...)
			// A removed task may join a queue again, at the back.
			q.PushBack(ts[tc.remove])
			assertQueue(t, &q, append(want, ts[tc.remove])...)
		})
	}
}

func TestQueueRemoveOnlyAndForeign(t *testing.T) {
	ts := newTasks(2)
	var q, other Queue
	q.PushBack(ts[0])
	other.PushBack(ts[1])
	q.Remove(ts[1]) // in another queue: untouched
	assertQueue(t, &other, ts[1])
	q.Remove(ts[0])
	assertQueue(t, &q)
	q.Remove(ts[0]) // no longer queued
	assertQueue(t, &q)
}

func TestQueueRotate(t *testing.T) {
	ts := newTasks(3)
	var q Queue
	q.Rotate() // empty: nothing to do
	assertQueue(t, &q)
	q.PushBack(ts[0])
	q.Rotate()
	assertQueue(t, &q, ts[0])
	q.PushBack(ts[1])
	q.PushBack(ts[2])
	q.Rotate()
	assertQueue(t, &q, ts[1], ts[2], ts[0])
	q.Rotate()
	q.Rotate()
	assertQueue(t, &q, ts...)
	// After a rotation the new tail must be the one PushBack appends after.
	q.Rotate()
	x := newTasks(1)[0]
	q.PushBack(x)
	assertQueue(t, &q, ts[1], ts[2], ts[0], x)
}

func TestQueuePushQueuedPanics(t *testing.T) {
	ts := newTasks(1)
	q := Queue{Label: "fork 1"}
	other := Queue{Label: "fork 2"}
	q.PushBack(ts[0])
	for _, dst := range []*Queue{&q, &other} {
		func() {
			defer func() {
				msg, _ := recover().(string)
				if !strings.Contains(msg, "while in fork 1") || !strings.Contains(msg, "onto "+dst.Label) {
					t.Errorf("pushing a queued task onto %s: panic %q, want one naming both queues", dst.Label, msg)
				}
			}()
			dst.PushBack(ts[0])
		}()
	}
	assertQueue(t, &q, ts[0])
	assertQueue(t, &other)
}

// TestQueueRandom checks a long random mix of operations against a slice.
func TestQueueRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ts := newTasks(40)
	var q Queue
	var model []*Task
	for range 20000 {
		switch op := r.IntN(4); {
		case op == 0:
			x := ts[r.IntN(len(ts))]
			if x.Queue() == nil {
				q.PushBack(x)
				model = append(model, x)
			}
		case op == 1:
			got := q.PopFront()
			var want *Task
			if len(model) > 0 {
				want, model = model[0], model[1:]
			}
			if got != want {
				t.Fatalf("PopFront: got %v, want %v", got, want)
			}
		case op == 2:
			x := ts[r.IntN(len(ts))]
			q.Remove(x)
			if i := slices.Index(model, x); i >= 0 {
				model = slices.Delete(model, i, i+1)
			}
		default:
			q.Rotate()
			if len(model) > 0 {
				model = append(model[1:], model[0])
			}
		}
		if q.Len() != len(model) {
			t.Fatalf("Len %d, want %d", q.Len(), len(model))
		}
	}
	assertQueue(t, &q, model...)
}

func TestReadyList(t *testing.T) {
	q := ReadyList()
	if !q.runnable || q.Label != "ready list" || q.Len() != 0 {
		t.Fatalf("ReadyList() = %+v", q)
	}
}
