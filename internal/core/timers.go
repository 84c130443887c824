package core

// timerHeap is a min-heap of the tasks in timed waits, ordered by deadline.
// Like the queues it is intrusive: each task records its index, so a task
// woken before its deadline leaves the heap at once in O(log n), and there
// are no cancelled timers to skip or sweep later.
type timerHeap struct {
	heap []*Task
}

func (h *timerHeap) earliest() *Task {
	if len(h.heap) == 0 {
		return nil
	}
	return h.heap[0]
}

// add sets t's deadline and puts t in the heap; t must not be in it.
func (h *timerHeap) add(t *Task, deadline int64) {
	t.deadline = deadline
	h.heap = append(h.heap, t)
	t.timerIndex = int32(len(h.heap))
	h.up(len(h.heap) - 1)
}

// remove takes t out of the heap; t must be in it.
func (h *timerHeap) remove(t *Task) {
	i, last := int(t.timerIndex)-1, len(h.heap)-1
	if i != last {
		h.swap(i, last)
	}
	h.heap[last] = nil
	h.heap = h.heap[:last]
	t.timerIndex, t.deadline = 0, 0
	if i != last && !h.down(i) {
		h.up(i) // the task moved into i may belong above it, or below
	}
}

func (h *timerHeap) less(i, j int) bool { return h.heap[i].deadline < h.heap[j].deadline }

func (h *timerHeap) swap(i, j int) {
	h.heap[i], h.heap[j] = h.heap[j], h.heap[i]
	h.heap[i].timerIndex = int32(i + 1)
	h.heap[j].timerIndex = int32(j + 1)
}

func (h *timerHeap) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		j = i
	}
}

// down sifts element i0 down and reports whether it moved.
func (h *timerHeap) down(i0 int) bool {
	i, n := i0, len(h.heap)
	for {
		j := 2*i + 1
		if j >= n {
			break
		}
		if r := j + 1; r < n && h.less(r, j) {
			j = r
		}
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > i0
}
