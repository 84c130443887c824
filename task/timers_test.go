package task

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// checkHeap verifies the heap property and every task's back index.
func checkHeap(t *testing.T, h *Timers) {
	t.Helper()
	for i, x := range h.heap {
		if int(x.timerIndex) != i+1 {
			t.Fatalf("heap[%d] = %v has timerIndex %d", i, x, x.timerIndex)
		}
		if p := (i - 1) / 2; i > 0 && h.heap[p].deadline > x.deadline {
			t.Fatalf("heap[%d] deadline %d above heap[%d] deadline %d", p, h.heap[p].deadline, i, x.deadline)
		}
	}
}

func TestTimersEmpty(t *testing.T) {
	var h Timers
	if h.Len() != 0 || h.Earliest() != nil {
		t.Fatal("zero Timers is not empty")
	}
	x := newTasks(1)[0]
	h.Remove(x) // not in the heap: nothing happens
	if x.Deadline() != 0 {
		t.Fatalf("Deadline of a task with no timer is %d", x.Deadline())
	}
}

func TestTimersOrder(t *testing.T) {
	ts := newTasks(5)
	var h Timers
	for i, d := range []int64{50, 10, 40, 20, 30} {
		h.Add(ts[i], d)
	}
	checkHeap(t, &h)
	var got []int64
	for x := h.Earliest(); x != nil; x = h.Earliest() {
		got = append(got, x.Deadline())
		h.Remove(x)
		if x.Deadline() != 0 || x.timerIndex != 0 {
			t.Fatalf("removed %v still has a deadline", x)
		}
		checkHeap(t, &h)
	}
	if want := []int64{10, 20, 30, 40, 50}; !slices.Equal(got, want) {
		t.Fatalf("deadlines came out as %v, want %v", got, want)
	}
}

func TestTimersAddMoves(t *testing.T) {
	ts := newTasks(3)
	var h Timers
	h.Add(ts[0], 10)
	h.Add(ts[1], 20)
	h.Add(ts[2], 30)
	h.Add(ts[2], 5) // a new deadline moves the task, not a second entry
	if h.Len() != 3 || h.Earliest() != ts[2] {
		t.Fatalf("after moving: Len %d, Earliest %v", h.Len(), h.Earliest())
	}
	h.Add(ts[2], 40)
	if h.Len() != 3 || h.Earliest() != ts[0] || ts[2].Deadline() != 40 {
		t.Fatalf("after moving back: Len %d, Earliest %v", h.Len(), h.Earliest())
	}
	checkHeap(t, &h)
}

// TestTimersRandom adds, moves and removes tasks at random, checking the
// heap against a plain map, and finally drains it in sorted order.
func TestTimersRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	ts := newTasks(200)
	var h Timers
	model := map[*Task]int64{}
	for range 20000 {
		x := ts[r.IntN(len(ts))]
		if r.IntN(3) == 0 {
			h.Remove(x)
			delete(model, x)
		} else {
			d := 1 + r.Int64N(100) // small range: many equal deadlines
			h.Add(x, d)
			model[x] = d
		}
		if h.Len() != len(model) {
			t.Fatalf("Len %d, want %d", h.Len(), len(model))
		}
		if e := h.Earliest(); e != nil {
			for y, d := range model {
				if d < e.Deadline() {
					t.Fatalf("Earliest has deadline %d but %v has %d", e.Deadline(), y, d)
				}
			}
		}
	}
	checkHeap(t, &h)
	var want []int64
	for x, d := range model {
		if x.Deadline() != d {
			t.Fatalf("%v has deadline %d, want %d", x, x.Deadline(), d)
		}
		want = append(want, d)
	}
	slices.Sort(want)
	var got []int64
	for x := h.Earliest(); x != nil; x = h.Earliest() {
		got = append(got, x.Deadline())
		h.Remove(x)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("drained %v, want %v", got, want)
	}
}
