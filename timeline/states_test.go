package timeline

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func us(n int) time.Duration { return time.Duration(n) * time.Microsecond }

// ev builds an event at n µs; the name is derived from the task so that
// streams stay short to write.
func ev(n int, k Kind, task uint64) Event {
	e := Event{Time: us(n), Kind: k, Task: task}
	if task != 0 {
		e.Name = fmt.Sprint("t", task)
	}
	return e
}

func (e Event) arg(a int64) Event           { e.Arg = a; return e }
func (e Event) label(l string) Event        { e.Label = l; return e }
func (e Event) peer(p uint64) Event         { e.Peer = p; return e }
func (e Event) wait(w Wait, l string) Event { e.Wait, e.Label = w, l; return e }
func (e Event) n(n int64) Event             { e.N = n; return e }

// checkLane compares one lane with what a test expects of it.
func checkLane(t *testing.T, tl *timeline, id uint64, first, end time.Duration, ended bool, segs []segment, marks []mark) {
	t.Helper()
	l := tl.lane(id)
	if l == nil {
		t.Fatalf("no lane for task %d", id)
	}
	if l.first != first || l.end != end || l.ended != ended {
		t.Errorf("task %d: first %v end %v ended %v, want %v %v %v", id, l.first, l.end, l.ended, first, end, ended)
	}
	if !reflect.DeepEqual(l.segs, segs) {
		t.Errorf("task %d segments:\n%s\nwant:\n%s", id, dumpSegs(l.segs), dumpSegs(segs))
	}
	if !reflect.DeepEqual(l.marks, marks) {
		t.Errorf("task %d marks: %+v, want %+v", id, l.marks, marks)
	}
}

func dumpSegs(segs []segment) string {
	var b strings.Builder
	for _, s := range segs {
		fmt.Fprintf(&b, "\t%v-%v %s %q peer=%d wake=%q deadline=%v timedOut=%v\n",
			s.start, s.end, s.state.title(), s.label, s.peer, s.wake, s.deadline, s.timedOut)
	}
	return b.String()
}

func TestReconstructLifecycle(t *testing.T) {
	tl := reconstruct([]Event{
		ev(1, Create, 1),
		ev(2, Create, 2),
		ev(3, Start, 2),
		ev(4, Block, 2).wait(WaitChan, "jobs receive").arg(int64(us(96))), // a deadline at 100,
		ev(5, End, 2).arg(EndBlock),
		ev(6, Start, 1),
		ev(7, Wake, 2).peer(1),
		ev(8, Budget, 1),
		ev(9, End, 1).arg(EndYield),
		ev(10, Start, 2),
		ev(11, End, 2).arg(EndFinish),
		ev(12, Finish, 2),
		ev(13, Start, 1),
		ev(14, End, 1).arg(EndFinish),
		ev(15, Panic, 1).label("boom"),
	})
	if tl.events != 15 || tl.start != us(1) || tl.end != us(15) || len(tl.lanes) != 2 {
		t.Fatalf("events %d, span %v-%v, %d lanes", tl.events, tl.start, tl.end, len(tl.lanes))
	}
	checkLane(t, tl, 1, us(1), us(15), true, []segment{
		{start: us(1), end: us(6), state: stateReady, label: causeCreated},
		{start: us(6), end: us(9), state: stateRunning},
		{start: us(9), end: us(13), state: stateReady, label: causeBudget},
		{start: us(13), end: us(14), state: stateRunning},
	}, []mark{{at: us(8), kind: markBudget}, {at: us(15), kind: markPanic, label: "boom"}})
	checkLane(t, tl, 2, us(2), us(12), true, []segment{
		{start: us(2), end: us(3), state: stateReady, label: causeCreated},
		{start: us(3), end: us(5), state: stateRunning},
		{start: us(5), end: us(7), state: stateChan, label: "jobs receive", peer: 1, deadline: us(100)},
		{start: us(7), end: us(10), state: stateReady, label: causeWoken, peer: 1},
		{start: us(10), end: us(11), state: stateRunning},
	}, []mark{{at: us(12), kind: markFinish}})
	if want := []wakeEdge{{at: us(7), from: 1, to: 2}}; !reflect.DeepEqual(tl.wakes, want) {
		t.Errorf("wakes %+v, want %+v", tl.wakes, want)
	}
	if tl.segments() != 9 {
		t.Errorf("%d segments, want 9", tl.segments())
	}
}

// TestReconstructOverwritten: the ring lost the stream's beginning, so each
// task's first event is whatever came next; nothing is drawn before it, and
// the living tasks' last states reach the stream's last event.
func TestReconstructOverwritten(t *testing.T) {
	tl := reconstruct([]Event{
		ev(9, Create, 9),                              // listed first, drawn last: lanes go by ID
		ev(10, Wake, 5).label("poller"),               // woken by the loop
		ev(11, End, 6).arg(EndBlock),                  // its Block was overwritten
		ev(12, Block, 7).wait(WaitIO, "fd 7 read"),    // its Start was overwritten: running
		ev(13, End, 7).arg(EndBlock),                  //
		ev(14, Start, 5),                              //
		ev(15, Timer, 8),                              // waiting on something unknown
		ev(16, Wake, 8).label("timer"),                //
		ev(17, Block, 10).wait(Wait(42), "from 2030"), // a wait this package does not know
		ev(18, End, 10).arg(EndBlock),                 //
		ev(19, Post, 0).n(2),                          //
	})
	var ids []uint64
	for _, l := range tl.lanes {
		ids = append(ids, l.id)
	}
	if want := []uint64{5, 6, 7, 8, 9, 10}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("lanes %v, want %v", ids, want)
	}
	checkLane(t, tl, 5, us(10), us(19), false, []segment{
		{start: us(10), end: us(14), state: stateReady, label: causeWoken, wake: "poller"},
		{start: us(14), end: us(19), state: stateRunning},
	}, nil)
	checkLane(t, tl, 6, us(11), us(19), false, []segment{
		{start: us(11), end: us(19), state: stateQueue, label: "(wait not recorded)"},
	}, nil)
	checkLane(t, tl, 7, us(12), us(19), false, []segment{
		{start: us(12), end: us(13), state: stateRunning},
		{start: us(13), end: us(19), state: stateIO, label: "fd 7 read"},
	}, nil)
	checkLane(t, tl, 8, us(15), us(19), false, []segment{
		{start: us(16), end: us(19), state: stateReady, label: causeWoken, wake: "timer"},
	}, []mark{{at: us(15), kind: markTimer}})
	checkLane(t, tl, 9, us(9), us(19), false, []segment{
		{start: us(9), end: us(19), state: stateReady, label: causeCreated},
	}, nil)
	checkLane(t, tl, 10, us(17), us(19), false, []segment{
		{start: us(17), end: us(18), state: stateRunning},
		{start: us(18), end: us(19), state: stateQueue, label: "from 2030"},
	}, nil)
}

func TestReconstructKilled(t *testing.T) {
	tl := reconstruct([]Event{
		ev(1, Create, 1),
		ev(1, Create, 2),
		ev(2, Start, 1),
		ev(3, Block, 1).wait(WaitIO, "fd 3 write"),
		ev(4, End, 1).arg(EndBlock),
		ev(5, Kill, 1),  // killed while blocked: no End
		ev(6, Kill, 2),  // killed while ready
		ev(7, Wake, 1),  // after its end: ignored
		ev(8, Start, 3), // killed while running: End, then Kill
		ev(9, End, 3).arg(EndFinish),
		ev(9, Kill, 3),
		ev(10, Start, 4), // finishing when the stream stops: ends at its End
		ev(11, End, 4).arg(EndFinish),
		ev(12, Post, 0),
	})
	checkLane(t, tl, 1, us(1), us(5), true, []segment{
		{start: us(1), end: us(2), state: stateReady, label: causeCreated},
		{start: us(2), end: us(4), state: stateRunning},
		{start: us(4), end: us(5), state: stateIO, label: "fd 3 write"},
	}, []mark{{at: us(5), kind: markKill}})
	checkLane(t, tl, 2, us(1), us(6), true, []segment{
		{start: us(1), end: us(6), state: stateReady, label: causeCreated},
	}, []mark{{at: us(6), kind: markKill}})
	checkLane(t, tl, 3, us(8), us(9), true, []segment{
		{start: us(8), end: us(9), state: stateRunning},
	}, []mark{{at: us(9), kind: markKill}})
	checkLane(t, tl, 4, us(10), us(11), false, []segment{
		{start: us(10), end: us(11), state: stateRunning},
	}, nil)
	if len(tl.wakes) != 0 {
		t.Errorf("wakes %+v: the loop's wakes draw no arrows", tl.wakes)
	}
}

func TestReconstructSelectAndSleep(t *testing.T) {
	tl := reconstruct([]Event{
		ev(1, Start, 1),
		ev(2, Block, 1).wait(WaitSelect, "a or b").arg(int64(us(48))), // at 50,
		ev(3, End, 1).arg(EndBlock),
		ev(50, Timer, 1),
		ev(51, Wake, 1).label("timer"),
		ev(52, Start, 1),
		ev(53, Block, 1).wait(WaitSleep, "sleep").arg(int64(us(7))), // at 60,
		ev(54, End, 1).arg(EndBlock),
		ev(55, Wake, 1).peer(99).label("ignored: a task woke it"), // 99's events were overwritten
		ev(56, Start, 1),
		ev(57, Block, 1).wait(WaitQueue, "fork 2"),
		ev(58, Wake, 1).peer(2), // woken within its own step: the runtime calls it a yield
		ev(59, End, 1).arg(EndYield),
		ev(60, Start, 1),
		ev(61, Block, 1).wait(WaitQueue, "q1"),
		ev(62, Wake, 1).peer(2), // woken, and then it waits again
		ev(63, Block, 1).wait(WaitChan, "q2 receive"),
		ev(64, End, 1).arg(EndBlock),
		ev(70, Start, 2),
	})
	checkLane(t, tl, 1, us(1), us(70), false, []segment{
		{start: us(1), end: us(3), state: stateRunning},
		{start: us(3), end: us(51), state: stateSelect, label: "a or b", wake: "timer", deadline: us(50), timedOut: true},
		{start: us(51), end: us(52), state: stateReady, label: causeWoken, wake: "timer"},
		{start: us(52), end: us(54), state: stateRunning},
		{start: us(54), end: us(55), state: stateSleep, label: "sleep", peer: 99, deadline: us(60)},
		{start: us(55), end: us(56), state: stateReady, label: causeWoken, peer: 99},
		{start: us(56), end: us(59), state: stateRunning},
		{start: us(59), end: us(59), state: stateQueue, label: "fork 2", peer: 2},
		{start: us(59), end: us(60), state: stateReady, label: causeWoken, peer: 2},
		{start: us(60), end: us(64), state: stateRunning},
		{start: us(64), end: us(70), state: stateChan, label: "q2 receive"},
	}, []mark{{at: us(50), kind: markTimer}})
	if got := tl.waker(tl.lanes[0].segs[4]); got != "#99" {
		t.Errorf("waker of the sleep: %q, want #99 (a task the stream does not name)", got)
	}
	if got := tl.waker(tl.lanes[0].segs[1]); got != "loop (timer)" {
		t.Errorf("waker of the select: %q, want loop (timer)", got)
	}
}

func TestReconstructLoopTrack(t *testing.T) {
	tl := reconstruct([]Event{
		ev(3, Poll, 0).arg(int64(us(5))), // began before the recorder: from 0
		ev(10, Poll, 0).arg(int64(us(4))).n(3),
		ev(12, Post, 0).n(2),
		ev(13, Wake, 0).label("not a task: ignored"),
		ev(13, Poll, 0).arg(int64(us(20))), // clocks apart: from the last one's end
	})
	if len(tl.lanes) != 0 {
		t.Errorf("%d lanes, want none", len(tl.lanes))
	}
	if want := []pollWait{{start: 0, end: us(3)}, {start: us(6), end: us(10), n: 3}, {start: us(10), end: us(13)}}; !reflect.DeepEqual(tl.polls, want) {
		t.Errorf("polls %+v, want %+v", tl.polls, want)
	}
	if want := []post{{at: us(12), n: 2}}; !reflect.DeepEqual(tl.posts, want) {
		t.Errorf("posts %+v, want %+v", tl.posts, want)
	}
	if tl.start != 0 || tl.end != us(13) {
		t.Errorf("span %v-%v, want 0-13µs: a poll's wait is drawn from its start", tl.start, tl.end)
	}
}

func TestReconstructEmpty(t *testing.T) {
	tl := reconstruct(nil)
	if tl.events != 0 || len(tl.lanes) != 0 || tl.start != 0 || tl.end != 0 {
		t.Errorf("%+v", tl)
	}
}

// TestReconstructPermits: a task holding two permits of one semaphore at
// once has two holds, drawn on two rows.
func TestReconstructPermits(t *testing.T) {
	tl := reconstruct([]Event{
		ev(1, Create, 1),
		ev(2, Acquire, 1).label("sem"),
		ev(3, Acquire, 1).label("sem"),
		ev(4, Release, 1).label("sem"),
		ev(6, Release, 1).label("sem"),
		ev(7, Start, 1),
	})
	var got []string
	for _, r := range tl.resources {
		for _, h := range r.holds {
			got = append(got, fmt.Sprintf("%s: %v-%v by %d", r.name, h.start, h.end, h.task))
		}
	}
	want := []string{"sem: 2µs-4µs by 1", "sem (2): 3µs-6µs by 1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("holds %q, want %q", got, want)
	}
}
