package task

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func tableIDs(tb *Table) []uint64 {
	var ids []uint64
	for _, info := range tb.Infos() {
		ids = append(ids, info.ID)
	}
	return ids
}

func TestTableAddRemove(t *testing.T) {
	ts := newTasks(4)
	var tb Table
	if tb.Len() != 0 || tb.Any() != nil || len(tb.Infos()) != 0 {
		t.Fatal("zero Table is not empty")
	}
	for _, x := range []*Task{ts[2], ts[0], ts[3], ts[1], ts[0]} {
		tb.Add(x) // adding ts[0] twice keeps one entry
	}
	if got := tableIDs(&tb); !slices.Equal(got, []uint64{1, 2, 3, 4}) {
		t.Fatalf("Infos IDs %v, want sorted 1..4", got)
	}
	tb.Remove(ts[2]) // the first added: the last one moves into its slot
	tb.Remove(ts[2])
	if got := tableIDs(&tb); !slices.Equal(got, []uint64{1, 2, 4}) {
		t.Fatalf("after removing 3: %v", got)
	}
	other := newTasks(1)[0]
	tb.Remove(other) // never added
	if tb.Len() != 3 {
		t.Fatalf("Len %d after removing a stranger", tb.Len())
	}
	for tb.Len() > 0 {
		tb.Remove(tb.Any())
	}
	if tb.Any() != nil {
		t.Fatal("Any of an emptied table is not nil")
	}
}

func TestTableRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	ts := newTasks(50)
	var tb Table
	model := map[uint64]bool{}
	for range 5000 {
		x := ts[r.IntN(len(ts))]
		if r.IntN(2) == 0 {
			tb.Add(x)
			model[x.ID()] = true
		} else {
			tb.Remove(x)
			delete(model, x.ID())
		}
		if tb.Len() != len(model) {
			t.Fatalf("Len %d, want %d", tb.Len(), len(model))
		}
		if a := tb.Any(); a != nil && !model[a.ID()] {
			t.Fatalf("Any returned %v, which is not in the table", a)
		}
	}
	var want []uint64
	for id := range model {
		want = append(want, id)
	}
	slices.Sort(want)
	if got := tableIDs(&tb); !slices.Equal(got, want) {
		t.Fatalf("Infos IDs %v, want %v", got, want)
	}
}
