package scheduler

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/lwtask/lwtask/internal/core"
	"github.com/lwtask/lwtask/timeline"
)

// Metrics are a scheduler's counters since it was made.
type Metrics struct {
	Tasks        int           // live tasks
	MaxReady     int           // the longest the ready list has been
	Created      uint64        // tasks scheduled
	Steps        uint64        // steps run, of either kind of task
	Switches     uint64        // of those, coroutine switches: generator tasks resumed
	Wakeups      uint64        // waits ended: unblocked, timed out or woken
	BudgetYields uint64        // yields forced by the cooperation budget
	Polls        uint64        // waits in the event source (the poller), blocking or not
	PollEvents   uint64        // descriptors those waits reported ready
	Posted       uint64        // functions posted from other goroutines, run
	Idle         time.Duration // time spent waiting with no task ready
}

// String returns m as JSON, which makes a func returning it, or a
// MetricsVar, an expvar.Var.
func (m Metrics) String() string {
	b, _ := json.Marshal(m) // a struct of numbers: cannot fail
	return string(b)
}

// publishEvery is how many turns go by between two publications of the
// counters for Metrics, besides one before every wait that may block: often
// enough that a busy loop's figures are fresh, seldom enough to cost
// nothing.
const publishEvery = 64

// metrics returns the counters as they are now; on the loop's goroutine
// only.
func (s *Scheduler) metrics() Metrics {
	st := s.core.Stats()
	return Metrics{
		Tasks: s.core.Len(), MaxReady: st.MaxReady, Created: st.Created,
		Steps: st.Steps, Switches: st.Switches, Wakeups: st.Wakeups, BudgetYields: st.BudgetYields,
		Polls: s.polls, PollEvents: s.pollEvents, Posted: s.posts, Idle: s.idle,
	}
}

// publish makes the counters as they are now what Metrics returns.
func (s *Scheduler) publish() {
	m := s.metrics()
	s.published.mu.Lock()
	s.published.m = m
	s.published.mu.Unlock()
}

// published holds the counters for other goroutines: a copy the loop
// replaces a turn at a time, under a lock that only a reader contends, so
// that a reader sees one turn's counters, never a mix of two.
type published struct {
	mu sync.Mutex
	m  Metrics
}

// Metrics returns the scheduler's counters as of the end of one of its
// last turns, published every 64 turns and before every wait that may
// block, and up to date once Run has returned. Any goroutine may call it.
//
// While the tasks only talk among themselves (no task parked on a
// descriptor, no timer, no posted work), the run loop goes from turn to
// turn without publishing, to cost those turns nothing, and Metrics shows
// where they began. Anything that needs the loop (a Post, as Dump makes)
// brings it out.
func (s *Scheduler) Metrics() Metrics {
	s.published.mu.Lock()
	defer s.published.mu.Unlock()
	return s.published.m
}

// readyCounter is an event source that says how many descriptors its last
// Wait found ready (fdqueue's does), for the metrics and the timeline.
type readyCounter interface {
	Ready() int
}

// WithRecorder makes the scheduler hand every event of its tasks and its
// loop to k (a *timeline.Recorder, say): steps, waits and wake-ups, polls,
// timers, posted work, ends. Without it nothing is recorded, and the run
// loop pays nothing for the ability.
func WithRecorder(k timeline.Sink) Option { return func(s *Scheduler) { s.core.SetSink(k) } }

// SetRecorder is WithRecorder for a scheduler already made; call it before
// Run, or between runs.
func (s *Scheduler) SetRecorder(k timeline.Sink) { s.core.SetSink(k) }

// WithVirtualClock gives the scheduler a virtual clock: timers, deadlines
// and sleeps run on a time that stands still while tasks run, and jumps to
// the next deadline whenever every task waits and the event source has
// nothing. A test of timeouts then takes no time, and always the same.
// Tasks that wait for the world outside (a descriptor, a subprocess) meet
// their deadlines at once if nothing has come when the loop polls; work
// held from outside (Hold) is waited for, in real time, up to the next
// deadline.
func WithVirtualClock() Option { return func(s *Scheduler) { s.core.SetVirtual() } }

// Now returns the time on the scheduler's clock: the wall clock, or the
// virtual one (WithVirtualClock). Deadlines given to tasks are on it; any
// goroutine may call it.
func (s *Scheduler) Now() time.Time { return s.core.Time() }

// recordEnd records how t ended: it finished, it panicked (p, or a raw
// step's panic, stepPanic), or it was ended from outside. What t held
// passes on next, and whoever gets it was woken by t's end: recordEnd says
// so, and returns what the loop was doing, for retire to say again after.
func (s *Scheduler) recordEnd(t *core.Task, status core.Status, p *core.Panic) (source string) {
	if !s.core.Recording() {
		return ""
	}
	e := timeline.Event{Kind: timeline.Finish, Task: t.ID(), Name: t.Name()}
	switch {
	case p != nil:
		e.Kind, e.Label = timeline.Panic, panicLabel(p.Value)
	case s.stepPanic != nil:
		e.Kind, e.Label = timeline.Panic, panicLabel(s.stepPanic)
	case status != core.Finish:
		e.Kind = timeline.Kill
	}
	s.core.Record(e)
	source = s.core.Source()
	s.core.SetSource("end of " + t.String())
	return source
}

// panicLabel describes a panic value for a timeline, in a line or so.
func panicLabel(v any) string {
	const most = 200
	s := fmt.Sprint(v)
	if len(s) > most {
		s = s[:most] + "…"
	}
	return s
}
