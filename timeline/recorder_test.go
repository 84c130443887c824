package timeline

import (
	"testing"
)

// TestRecorderRing: a Recorder keeps the last n events, oldest first,
// counts those it overwrote, and grows its ring only as events come.
func TestRecorderRing(t *testing.T) {
	r := NewRecorder(1 << 20)
	r.Record(Event{Kind: Start, Task: 1})
	if c := cap(r.ring); c > 1<<10 {
		t.Errorf("one event recorded, and a ring of %d: it should grow as events come", c)
	}

	r = NewRecorder(3)
	for i := range 5 {
		r.Record(Event{Kind: Start, Task: uint64(i + 1)})
	}
	got := r.Events()
	if len(got) != 3 || got[0].Task != 3 || got[1].Task != 4 || got[2].Task != 5 {
		t.Errorf("events %+v, want tasks 3, 4 and 5", got)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Time < got[i-1].Time {
			t.Errorf("event %d is stamped before the one before it", i)
		}
	}
	if d := r.Dropped(); d != 2 {
		t.Errorf("Dropped() = %d, want 2", d)
	}
	r.Stop()
	r.Record(Event{Kind: Start, Task: 6})
	if got := r.Events(); got[2].Task != 5 {
		t.Errorf("an event recorded after Stop: %+v", got)
	}
}

// TestRecorderZero: the zero Recorder works, with the default ring.
func TestRecorderZero(t *testing.T) {
	var r Recorder
	for i := range defaultEvents + 1 {
		r.Record(Event{Kind: Start, Task: uint64(i + 1)})
	}
	got := r.Events()
	if len(got) != defaultEvents || got[0].Task != 2 || r.Dropped() != 1 {
		t.Errorf("%d events from task %d, %d dropped; want %d from task 2, 1 dropped",
			len(got), got[0].Task, r.Dropped(), defaultEvents)
	}
}
