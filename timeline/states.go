package timeline

import (
	"cmp"
	"slices"
	"strconv"
	"time"
)

// This file turns an event stream into what both exporters draw: for each
// task a lane of state intervals and instant marks, and a track of the
// loop's own polls and posts. The exporters only format what it builds, so
// the JSON trace and the HTML page never disagree about what happened.

// state is what a task was doing during a segment of its lane.
type state uint8

const (
	stateRunning state = iota
	stateReady
	stateQueue  // blocked on a queue of tasks
	stateChan   // blocked on a channel
	stateIO     // parked on a descriptor
	stateSleep  // waiting for a timer only
	stateSelect // blocked on several of these at once
	numStates
)

// stateInfo names each state: key is short and fit for a CSS class or a
// trace category, title is what a person reads.
var stateInfo = [numStates]struct{ key, title string }{
	stateRunning: {"run", "running"},
	stateReady:   {"ready", "ready"},
	stateQueue:   {"queue", "blocked on queue"},
	stateChan:    {"chan", "blocked on channel"},
	stateIO:      {"io", "parked on I/O"},
	stateSleep:   {"sleep", "sleeping"},
	stateSelect:  {"select", "blocked on select"},
}

func (s state) key() string   { return stateInfo[s].key }
func (s state) title() string { return stateInfo[s].title }

// waiting reports whether s is one of the blocked states.
func (s state) waiting() bool { return s >= stateQueue }

// wait returns the Wait a blocked state stands for.
func (s state) wait() Wait { return Wait(s - stateQueue) }

// waitState returns the state of a task blocked on w. A Wait this package
// does not know (a newer runtime's) is drawn as a queue: still blocked,
// and the Block's label says on what.
func waitState(w Wait) state {
	if w > WaitSelect {
		return stateQueue
	}
	return stateQueue + state(w)
}

// Why a task became ready, in a ready segment's label.
const (
	causeCreated = "created"
	causeYield   = "yield"
	causeBudget  = "budget"
	causeWoken   = "woken"
)

// A segment is an interval of one state in a task's lane.
type segment struct {
	start, end time.Duration
	state      state
	// label: for a wait, what it waits for (the Block's Label); for a
	// ready segment, why it became ready (one of the cause* values).
	label string
	// peer is the task that ended a wait or made the task ready, 0 if the
	// loop did (then wake says why) or if it is not known.
	peer uint64
	wake string
	// deadline of a wait on the recorder's clock, 0 if none; timedOut
	// when a Timer event said it passed.
	deadline time.Duration
	timedOut bool
}

// markKind is the kind of an instant mark on a task's lane.
type markKind uint8

const (
	markBudget markKind = iota
	markTimer
	markPanic
	markKill
	markFinish
	numMarks
)

var markNames = [numMarks]string{
	markBudget: "budget", markTimer: "timer", markPanic: "panic", markKill: "kill", markFinish: "finish",
}

func (k markKind) String() string { return markNames[k] }

// A mark is an instant on a task's lane; label holds a panic's value.
type mark struct {
	at    time.Duration
	kind  markKind
	label string
}

// A lane is one task's life as far as the stream shows it.
type lane struct {
	id    uint64
	name  string
	first time.Duration // its first event: nothing is known before
	end   time.Duration // its end, or the stream's if it is still alive
	ended bool          // a Finish, Panic or Kill came
	segs  []segment     // in time order, not overlapping
	marks []mark        // in time order
}

// label is how a lane is named in both exporters: "name #ID".
func (l *lane) label() string { return taskLabel(l.name, l.id) }

func taskLabel(name string, id uint64) string {
	if name == "" {
		name = "task"
	}
	return name + " #" + strconv.FormatUint(id, 10)
}

// A pollWait is the loop waiting in its poller over [start, end], after
// which n descriptors were ready.
type pollWait struct {
	start, end time.Duration
	n          int64
}

// A post is the loop running n functions posted from other goroutines.
type post struct {
	at time.Duration
	n  int64
}

// A wakeEdge is one task waking another, for the trace's flow arrows.
type wakeEdge struct {
	at       time.Duration
	from, to uint64
}

// A hold is a task holding a resource over [start, end].
type hold struct {
	start, end time.Duration
	task       uint64
}

// A resource is something tasks take and give back, such as a utensil:
// its holds say who had it when. A resource several tasks hold at once (a
// semaphore's permits) is drawn as several: "name", "name (2)", ..., so
// that no row has holds that overlap.
type resource struct {
	name  string
	holds []hold // by start, not overlapping
}

// spread sorts r's holds and deals them out to as few rows as keep each
// row's holds apart: the first row is r itself.
func (r *resource) spread() []*resource {
	slices.SortFunc(r.holds, func(a, b hold) int {
		return cmp.Or(cmp.Compare(a.start, b.start), cmp.Compare(a.task, b.task))
	})
	holds := r.holds
	rows := []*resource{{name: r.name}}
	for _, h := range holds {
		i := slices.IndexFunc(rows, func(row *resource) bool {
			return len(row.holds) == 0 || row.holds[len(row.holds)-1].end <= h.start
		})
		if i < 0 {
			i = len(rows)
			rows = append(rows, &resource{name: r.name + " (" + strconv.Itoa(i+1) + ")"})
		}
		rows[i].holds = append(rows[i].holds, h)
	}
	return rows
}

// A timeline is a reconstructed event stream.
type timeline struct {
	events     int
	start, end time.Duration // the span drawn: earliest start, last event
	lanes      []*lane       // by ID
	resources  []*resource   // by name
	polls      []pollWait
	posts      []post
	wakes      []wakeEdge
}

// segments returns how many segments the task lanes hold.
func (tl *timeline) segments() int {
	n := 0
	for _, l := range tl.lanes {
		n += len(l.segs)
	}
	return n
}

// lane returns the lane of task id, or nil.
func (tl *timeline) lane(id uint64) *lane {
	i, ok := slices.BinarySearchFunc(tl.lanes, id, func(l *lane, id uint64) int {
		return cmp.Compare(l.id, id)
	})
	if !ok {
		return nil
	}
	return tl.lanes[i]
}

// reconstruct replays events, in the order given, into lanes.
func reconstruct(events []Event) *timeline {
	b := builder{tl: &timeline{events: len(events)}, tracks: map[uint64]*track{}, held: map[string]*holding{}}
	for i, e := range events {
		if i == 0 || e.Time < b.tl.start {
			b.tl.start = e.Time
		}
		b.tl.end = max(b.tl.end, e.Time)
		b.add(e)
	}
	return b.finish()
}

// A track is a lane while it is being built.
type track struct {
	lane *lane
	open bool    // cur is in progress
	cur  segment // the state the task is in now
	// What the current step told before its End: its Block, whether it
	// spent its budget, and a Wake that came before the End.
	block     *Event
	budget    bool
	earlyWake *Event
}

type builder struct {
	tl     *timeline
	tracks map[uint64]*track
	held   map[string]*holding // by resource name
}

// A holding is a resource while it is being built: since when each task
// holding it has held it, a start for each hold (a task may hold several
// of a semaphore's permits).
type holding struct {
	res  *resource
	open map[uint64][]time.Duration
}

// holding returns the resource called name, made on first use.
func (b *builder) holding(name string) *holding {
	h := b.held[name]
	if h == nil {
		h = &holding{res: &resource{name: name}, open: map[uint64][]time.Duration{}}
		b.held[name] = h
		b.tl.resources = append(b.tl.resources, h.res)
	}
	return h
}

// take and give record an Acquire and a Release. A Release whose Acquire
// the ring lost is drawn from the holder's first event on.
func (h *holding) take(task uint64, at time.Duration) {
	h.open[task] = append(h.open[task], at)
}

func (h *holding) give(task uint64, at, since time.Duration) {
	if starts := h.open[task]; len(starts) > 0 {
		since = starts[0] // the oldest: which permit goes back does not matter
		if len(starts) == 1 {
			delete(h.open, task)
		} else {
			h.open[task] = starts[1:]
		}
	}
	h.res.holds = append(h.res.holds, hold{start: since, end: max(at, since), task: task})
}

func (b *builder) track(e Event) *track {
	t := b.tracks[e.Task]
	if t == nil {
		t = &track{lane: &lane{id: e.Task, first: e.Time}}
		b.tracks[e.Task] = t
		b.tl.lanes = append(b.tl.lanes, t.lane)
	}
	if t.lane.name == "" {
		t.lane.name = e.Name
	}
	return t
}

// enter ends the current segment at s.start and begins s.
func (t *track) enter(s segment) {
	t.close(s.start)
	t.cur, t.open = s, true
}

// close ends the current segment, if any, at at.
func (t *track) close(at time.Duration) {
	if !t.open {
		return
	}
	t.cur.end = max(at, t.cur.start)
	t.lane.segs = append(t.lane.segs, t.cur)
	t.open = false
}

// running makes sure the task is drawn as running from at on: a Block or
// Budget can only come while it runs, even when the ring lost its Start.
func (t *track) running(at time.Duration) {
	if !t.open {
		t.enter(segment{start: at, state: stateRunning})
	}
}

func (t *track) mark(at time.Duration, k markKind, label string) {
	t.lane.marks = append(t.lane.marks, mark{at: at, kind: k, label: label})
}

// wakeUp ends a wait (if the task is in one) with e's waker and makes the
// task ready.
func (t *track) wakeUp(e Event) {
	wake := ""
	if e.Peer == 0 {
		wake = e.Label
	}
	if t.open && t.cur.state.waiting() {
		t.cur.peer, t.cur.wake = e.Peer, wake
	}
	t.enter(segment{start: e.Time, state: stateReady, label: causeWoken, peer: e.Peer, wake: wake})
}

func (b *builder) add(e Event) {
	switch e.Kind {
	case Poll:
		// The runtime times the wait on its own clock: keep the interval
		// from reaching before 0 or into the previous wait.
		start := max(e.Time-time.Duration(max(e.Arg, 0)), 0)
		if n := len(b.tl.polls); n > 0 {
			start = min(max(start, b.tl.polls[n-1].end), e.Time)
		}
		b.tl.polls = append(b.tl.polls, pollWait{start: start, end: e.Time, n: e.N})
		b.tl.start = min(b.tl.start, start)
		return
	case Post:
		b.tl.posts = append(b.tl.posts, post{at: e.Time, n: e.N})
		return
	}
	if e.Task == 0 {
		return // no task event is about the loop itself
	}
	t := b.track(e)
	switch e.Kind {
	case Acquire:
		b.holding(e.Label).take(e.Task, e.Time)
		return
	case Release: // also after the task's end, which gives up what it held
		b.holding(e.Label).give(e.Task, e.Time, t.lane.first)
		return
	}
	if t.lane.ended {
		return // IDs are unique: nothing can happen to a task after its end
	}
	t.lane.end = max(t.lane.end, e.Time)
	switch e.Kind {
	case Create:
		t.enter(segment{start: e.Time, state: stateReady, label: causeCreated})
	case Start:
		t.enter(segment{start: e.Time, state: stateRunning})
		t.block, t.budget, t.earlyWake = nil, false, nil
	case Block:
		t.running(e.Time)
		t.block, t.earlyWake = &e, nil // a wake before it ended an earlier wait
	case Budget:
		t.running(e.Time)
		t.mark(e.Time, markBudget, "")
		t.budget = true
	case End:
		t.endStep(e)
	case Wake:
		if e.Peer != 0 {
			b.tl.wakes = append(b.tl.wakes, wakeEdge{at: e.Time, from: e.Peer, to: e.Task})
		}
		if t.open && t.cur.state == stateRunning {
			// Woken before its step ended (it blocked, then something it
			// did satisfied the wait): the End draws the wait, empty.
			t.earlyWake = &e
			return
		}
		t.wakeUp(e)
	case Timer:
		t.mark(e.Time, markTimer, "")
		if t.open && t.cur.state.waiting() {
			t.cur.timedOut = true
		}
	case Finish, Panic, Kill:
		t.close(e.Time)
		t.mark(e.Time, endMark(e.Kind), e.Label)
		t.lane.ended, t.lane.end = true, e.Time
	}
}

// endMark returns the mark of an event that ends a task.
func endMark(k Kind) markKind {
	switch k {
	case Panic:
		return markPanic
	case Kill:
		return markKill
	}
	return markFinish
}

// endStep handles an End: the step's Block, Budget and early Wake decide
// what the task is in next.
func (t *track) endStep(e Event) {
	block, budget, early := t.block, t.budget, t.earlyWake
	t.block, t.budget, t.earlyWake = nil, false, nil
	switch {
	case e.Arg == EndFinish: // a Finish, Panic or Kill follows and ends the lane
		t.close(e.Time)
	case e.Arg == EndBlock || block != nil && early != nil:
		// Waiting; or, if a Wake came after the Block (the step itself
		// satisfied its wait, and the runtime calls that a yield), a wait
		// that ended as it began, drawn empty, then ready.
		t.enter(waitSegment(e.Time, block))
		if early != nil {
			early.Time = e.Time
			t.wakeUp(*early)
		}
	default: // EndYield
		cause := causeYield
		if budget {
			cause = causeBudget
		}
		t.enter(segment{start: e.Time, state: stateReady, label: cause})
	}
}

// waitSegment is the wait that block began, from at on.
func waitSegment(at time.Duration, block *Event) segment {
	s := segment{start: at, state: stateQueue, label: "(wait not recorded)"}
	if block != nil {
		s.state, s.label = waitState(block.Wait), block.Label
		if block.Arg > 0 {
			s.deadline = block.Time + time.Duration(block.Arg)
		}
	}
	return s
}

// finish extends what is still alive to the end of the stream and orders
// the lanes.
func (b *builder) finish() *timeline {
	tl := b.tl
	for _, t := range b.tracks {
		if !t.lane.ended && t.open {
			t.close(tl.end)
			t.lane.end = tl.end
		}
	}
	slices.SortFunc(tl.lanes, func(a, b *lane) int { return cmp.Compare(a.id, b.id) })
	slices.SortFunc(tl.resources, func(a, b *resource) int { return cmp.Compare(a.name, b.name) })
	var rows []*resource
	for _, r := range tl.resources {
		h := b.held[r.name]
		for task, starts := range h.open { // still held when the stream ends
			for _, start := range starts {
				r.holds = append(r.holds, hold{start: start, end: tl.end, task: task})
			}
		}
		rows = append(rows, r.spread()...)
	}
	tl.resources = rows
	return tl
}
