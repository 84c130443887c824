// Package timeline records what a Runtime's tasks do, event by event, and
// draws it: as a Chrome trace, the JSON that Perfetto and chrome://tracing
// open, or as a self-contained HTML page with one lane per task.
//
// Recording is opt-in (lwtask.WithRecorder) and bounded: a Recorder keeps
// the last N events in a ring. The runtime hands events to a Sink, so a
// program may also stream them elsewhere. With no sink the runtime records
// nothing and pays nothing for it but a nil check off its hot loop.
package timeline

import (
	"strconv"
	"sync"
	"time"
)

// Kind says what happened.
type Kind uint8

const (
	// Create: a task was made (Task, Name).
	Create Kind = iota + 1
	// Start: a step of the task begins; the task runs.
	Start
	// End: the step ended (Arg: how, one of the End* values). After
	// EndYield the task is ready again; after EndBlock it waits (a Block
	// event came during the step); after EndFinish it has finished.
	End
	// Block: the running task waits (Wait: on what kind of thing; Label:
	// the queues, descriptor or timer it waits for; Arg: nanoseconds to
	// its deadline, at least 1, or 0 if it has none).
	Block
	// Wake: a waiting task is made ready (Peer: by which task, 0 when by
	// the loop itself: a descriptor became ready, a timer fired, a
	// posted function, a task ended; Label: why, when not by a task).
	Wake
	// Finish: the task returned and has ended.
	Finish
	// Panic: the task panicked and has ended (Label: the panic value).
	Panic
	// Kill: the task was ended from outside (Kill, Stop, a group).
	Kill
	// Poll: the loop asked the poller for events (Task 0; Arg: how long
	// it waited, in nanoseconds; N: how many descriptors were ready).
	Poll
	// Timer: the deadline of Task's wait passed.
	Timer
	// Post: the loop ran functions posted from other goroutines (Task 0;
	// N: how many).
	Post
	// Budget: the running task spent its turn's budget of operations and
	// yields.
	Budget
	// Acquire: the task now holds a resource (Label: its name), such as a
	// utensil or a semaphore's permit: handed over while it waited, or
	// taken at once.
	Acquire
	// Release: the task no longer holds the resource (Label: its name).
	Release
)

var kindNames = [...]string{
	Create: "create", Start: "start", End: "end", Block: "block", Wake: "wake",
	Finish: "finish", Panic: "panic", Kill: "kill", Poll: "poll", Timer: "timer",
	Post: "post", Budget: "budget", Acquire: "acquire", Release: "release",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// How a step ended, in End's Arg.
const (
	EndYield  = 0 // ready again: it yielded, or its turn's budget was spent
	EndBlock  = 1 // waiting: see the Block event before it
	EndFinish = 2 // finished, panicked or killed: see the event after it
)

// Wait is the kind of thing a blocked task waits for.
type Wait uint8

const (
	// WaitQueue: a queue of tasks, such as a utensil's, a group's or a
	// task.Queue of the program's own.
	WaitQueue Wait = iota
	// WaitChan: a channel, to send or to receive.
	WaitChan
	// WaitIO: a descriptor, to read or write ("fd 7 read").
	WaitIO
	// WaitSleep: only a timer.
	WaitSleep
	// WaitSelect: several of these at once (Label lists them).
	WaitSelect
)

var waitNames = [...]string{
	WaitQueue: "queue", WaitChan: "channel", WaitIO: "I/O", WaitSleep: "sleep", WaitSelect: "select",
}

func (w Wait) String() string {
	if int(w) < len(waitNames) {
		return waitNames[w]
	}
	return "wait(" + strconv.Itoa(int(w)) + ")"
}

// An Event is one thing that happened in a Runtime.
type Event struct {
	Time  time.Duration // since the recorder started
	Kind  Kind
	Wait  Wait   // Block: what kind of thing the task waits for
	Task  uint64 // the task it concerns; 0 for the loop's own (Poll, Post)
	Peer  uint64 // Wake: the task that woke it, 0 if the loop did
	Arg   int64  // End: how (End*); Block: ns to the deadline; Poll: ns waited
	N     int64  // Poll: descriptors ready; Post: functions run
	Name  string // the task's name
	Label string // Block: what it waits for; Wake: why (by the loop); Panic: the value
}

// A Sink takes a Runtime's events as they happen, on the Runtime's
// goroutine. It must not call back into the Runtime. Events come with a
// zero Time: the sink stamps them on its own clock (a Recorder's starts
// when it is made). Task IDs are a Runtime's own, so each Runtime needs a
// sink of its own.
type Sink interface {
	Record(e Event)
}

// defaultEvents is how many events a zero Recorder keeps.
const defaultEvents = 1 << 16

// A Recorder is a Sink that keeps the last events in a ring, for Events to
// return or a file to show. Record and Events may be called from different
// goroutines: a program may write out what its loop recorded from a signal
// handler's goroutine while the loop runs on. The zero Recorder keeps the
// last 65536 events, its clock starting at its first.
type Recorder struct {
	mu      sync.Mutex
	start   time.Time
	ring    []Event // grows to limit, then wraps
	limit   int
	next    int    // where the next event goes, once the ring is full
	total   uint64 // events recorded, including those overwritten
	stopped bool
}

// NewRecorder returns a Recorder keeping the last n events (at least 1),
// its clock starting now. The ring grows as events come, so a large n
// costs memory only once that many have been recorded.
func NewRecorder(n int) *Recorder {
	return &Recorder{start: time.Now(), limit: max(n, 1)}
}

// Record stamps e with the time since the recorder started and keeps it,
// overwriting the oldest event once the ring is full.
func (r *Recorder) Record(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	if r.limit == 0 { // a Recorder not made by NewRecorder
		r.start, r.limit = time.Now(), defaultEvents
	}
	e.Time = time.Since(r.start)
	if len(r.ring) < r.limit {
		r.ring = append(r.ring, e)
	} else {
		r.ring[r.next] = e
		r.next = (r.next + 1) % r.limit
	}
	r.total++
}

// Events returns a copy of the events kept, oldest first.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Event, 0, len(r.ring))
	if len(r.ring) == r.limit {
		out = append(out, r.ring[r.next:]...)
		out = append(out, r.ring[:r.next]...)
		return out
	}
	return append(out, r.ring...)
}

// Dropped returns how many events have been overwritten by newer ones.
func (r *Recorder) Dropped() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total - uint64(len(r.ring))
}

// Stop makes the recorder keep no more events: what it has is what a file
// written later shows, however long the program goes on.
func (r *Recorder) Stop() {
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
}
