package task

// Timers is a min-heap of tasks ordered by deadline: the tasks in timed waits
// (sleeping, or blocked in a queue with a deadline). Like Queue it is
// intrusive, so adding and removing a task allocates nothing, and removing
// one, when it is woken before its deadline, is O(log n) with no search.
// The zero Timers is empty and ready to use.
type Timers struct {
	heap []*Task
}

// Len returns the number of tasks with a deadline.
func (h *Timers) Len() int { return len(h.heap) }

// Deadline returns t's deadline, or 0 if it has none.
func (t *Task) Deadline() int64 { return t.deadline }

// Earliest returns the task with the earliest deadline, or nil.
func (h *Timers) Earliest() *Task {
	if len(h.heap) == 0 {
		return nil
	}
	return h.heap[0]
}

// Add sets t's deadline, adding t to h or moving it within h.
func (h *Timers) Add(t *Task, deadline int64) {
	if t.timerIndex != 0 {
		h.Remove(t)
	}
	t.deadline = deadline
	h.heap = append(h.heap, t)
	t.timerIndex = int32(len(h.heap))
	h.up(len(h.heap) - 1)
}

// Remove takes t out of h; it does nothing if t has no deadline in h.
func (h *Timers) Remove(t *Task) {
	i := int(t.timerIndex) - 1
	if i < 0 || i >= len(h.heap) || h.heap[i] != t {
		return
	}
	last := len(h.heap) - 1
	if i != last {
		h.swap(i, last)
	}
	h.heap[last] = nil
	h.heap = h.heap[:last]
	t.timerIndex, t.deadline = 0, 0
	if i != last {
		// The task moved into i may belong above or below it.
		if !h.down(i) {
			h.up(i)
		}
	}
}

func (h *Timers) less(i, j int) bool { return h.heap[i].deadline < h.heap[j].deadline }

func (h *Timers) swap(i, j int) {
	h.heap[i], h.heap[j] = h.heap[j], h.heap[i]
	h.heap[i].timerIndex = int32(i + 1)
	h.heap[j].timerIndex = int32(j + 1)
}

func (h *Timers) up(j int) {
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
func (h *Timers) down(i0 int) bool {
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
