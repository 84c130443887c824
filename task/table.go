package task

import (
	"cmp"
	"slices"
)

// Table is the set of a scheduler's live tasks, for task dumps, deadlock
// reports and ending every task at shutdown. Adding and removing are O(1).
// The zero Table is empty and ready to use.
type Table struct {
	tasks []*Task
}

// Len returns the number of tasks in the table.
func (tb *Table) Len() int { return len(tb.tasks) }

// Add puts t in the table; it does nothing if t is there already.
func (tb *Table) Add(t *Task) {
	if tb.has(t) {
		return
	}
	tb.tasks = append(tb.tasks, t)
	t.tableIndex = int32(len(tb.tasks))
}

// Remove takes t out of the table; it does nothing if t is not there.
func (tb *Table) Remove(t *Task) {
	if !tb.has(t) {
		return
	}
	i, last := int(t.tableIndex)-1, len(tb.tasks)-1
	moved := tb.tasks[last]
	tb.tasks[i] = moved
	moved.tableIndex = int32(i + 1)
	tb.tasks[last] = nil
	tb.tasks = tb.tasks[:last]
	t.tableIndex = 0
}

func (tb *Table) has(t *Task) bool {
	i := int(t.tableIndex) - 1
	return i >= 0 && i < len(tb.tasks) && tb.tasks[i] == t
}

// Any returns some task in the table, or nil if it is empty.
func (tb *Table) Any() *Task {
	if len(tb.tasks) == 0 {
		return nil
	}
	return tb.tasks[len(tb.tasks)-1]
}

// Infos returns a snapshot of every task, ordered by ID.
func (tb *Table) Infos() []Info {
	infos := make([]Info, len(tb.tasks))
	for i, t := range tb.tasks {
		infos[i] = t.Info()
	}
	slices.SortFunc(infos, func(a, b Info) int { return cmp.Compare(a.ID, b.ID) })
	return infos
}
