package timeline

import (
	"bufio"
	"encoding/json"
	"io"
	"strconv"
	"time"
)

// WriteJSON writes events as a Chrome trace: the Trace Event Format's JSON
// object form, which Perfetto (ui.perfetto.dev) and chrome://tracing open.
//
// Each task is a thread of process 1, its tid the task's ID, named
// "name #ID" and sorted by ID. Its running, ready and waiting intervals
// are complete events: "run", "ready" (category "ready"), and for a wait
// its label, with the kind of wait as the category and its deadline and
// waker in args. Budget, timer, panic, kill and finish are instant events
// on the task's thread, and flow arrows lead from a task to each task it
// woke. Thread 0, "event loop", holds the poller's waits and the posted
// functions' runs. Process 2, "resources held", has a thread for each
// resource tasks took (a utensil, a semaphore's permits) with an interval
// for each hold, named by its holder. Times are in microseconds since the recorder started.
//
// The output depends only on events, one trace event a line.
func WriteJSON(w io.Writer, events []Event) error {
	bw := bufio.NewWriter(w)
	tw := traceWriter{w: bw}
	tw.raw(`{"traceEvents":[`)
	writeTrace(&tw, reconstruct(events))
	tw.raw("\n],\"displayTimeUnit\":\"ns\"}\n")
	if tw.err != nil {
		return tw.err
	}
	return bw.Flush()
}

// traceEvent is one trace event with only the format's documented fields.
type traceEvent struct {
	Name string         `json:"name"`
	Cat  string         `json:"cat,omitempty"`
	Ph   string         `json:"ph"`
	Ts   *float64       `json:"ts,omitempty"`  // absent in metadata events only
	Dur  *float64       `json:"dur,omitempty"` // X events only, may be 0
	Pid  int            `json:"pid"`
	Tid  uint64         `json:"tid"`
	S    string         `json:"s,omitempty"`  // instant events' scope
	ID   uint64         `json:"id,omitempty"` // flow events
	Bp   string         `json:"bp,omitempty"` // flow events' binding point
	Args map[string]any `json:"args,omitempty"`
}

const (
	tracePid    = 1
	loopTid     = 0
	resourcePid = 2 // one thread a resource, its tid its rank
)

// traceWriter writes trace events one a line, comma-separated, keeping
// the first error.
type traceWriter struct {
	w   *bufio.Writer
	n   int
	err error
}

func (tw *traceWriter) raw(s string) {
	if tw.err == nil {
		_, tw.err = tw.w.WriteString(s)
	}
}

func (tw *traceWriter) event(e traceEvent) {
	if tw.err != nil {
		return
	}
	b, err := json.Marshal(e) // map keys come out sorted: deterministic
	if err != nil {
		tw.err = err
		return
	}
	if tw.n > 0 {
		tw.raw(",")
	}
	tw.raw("\n")
	if tw.err == nil {
		_, tw.err = tw.w.Write(b)
	}
	tw.n++
}

// micros converts to the format's microseconds, keeping nanoseconds as
// decimals.
func micros(d time.Duration) *float64 {
	f := float64(d) / float64(time.Microsecond)
	return &f
}

func writeTrace(tw *traceWriter, tl *timeline) {
	meta := func(tid uint64, name string, args map[string]any) {
		tw.event(traceEvent{Name: name, Ph: "M", Pid: tracePid, Tid: tid, Args: args})
	}
	meta(loopTid, "process_name", map[string]any{"name": "lwtask"})
	meta(loopTid, "thread_name", map[string]any{"name": "event loop"})
	meta(loopTid, "thread_sort_index", map[string]any{"sort_index": 0})
	for i, l := range tl.lanes {
		meta(l.id, "thread_name", map[string]any{"name": l.label()})
		// The rank, not the ID: IDs may not fit the importers' int.
		meta(l.id, "thread_sort_index", map[string]any{"sort_index": i + 1})
	}

	for _, p := range tl.polls {
		tw.event(traceEvent{Name: "poll", Cat: "loop", Ph: "X", Ts: micros(p.start), Dur: micros(p.end - p.start),
			Pid: tracePid, Tid: loopTid, Args: map[string]any{"events": p.n}})
	}
	for _, p := range tl.posts {
		tw.event(traceEvent{Name: "post", Cat: "loop", Ph: "i", S: "t", Ts: micros(p.at),
			Pid: tracePid, Tid: loopTid, Args: map[string]any{"functions": p.n}})
	}

	if len(tl.resources) > 0 {
		tw.event(traceEvent{Name: "process_name", Ph: "M", Pid: resourcePid, Args: map[string]any{"name": "resources held"}})
	}
	for i, r := range tl.resources {
		tid := uint64(i + 1)
		tw.event(traceEvent{Name: "thread_name", Ph: "M", Pid: resourcePid, Tid: tid, Args: map[string]any{"name": r.name}})
		for _, h := range r.holds {
			tw.event(traceEvent{Name: tl.taskName(h.task), Cat: "hold", Ph: "X", Ts: micros(h.start), Dur: micros(h.end - h.start),
				Pid: resourcePid, Tid: tid, Args: map[string]any{"resource": r.name}})
		}
	}

	for _, l := range tl.lanes {
		for _, s := range l.segs {
			tw.event(segmentEvent(tl, l, s))
		}
		for _, m := range l.marks {
			e := traceEvent{Name: m.kind.String(), Cat: "task", Ph: "i", S: "t", Ts: micros(m.at), Pid: tracePid, Tid: l.id}
			if m.kind == markPanic {
				e.Args = map[string]any{"value": m.label}
			}
			tw.event(e)
		}
	}

	// Flow arrows from waker to woken, each bound to the slice enclosing
	// its point: the waker's run and the woken task's ready interval. A
	// waker the ring forgot has no slice to start from: no arrow.
	id := uint64(0)
	for _, w := range tl.wakes {
		if tl.lane(w.from) == nil {
			continue
		}
		id++
		tw.event(traceEvent{Name: "wake", Cat: "wake", Ph: "s", ID: id, Ts: micros(w.at), Pid: tracePid, Tid: w.from})
		tw.event(traceEvent{Name: "wake", Cat: "wake", Ph: "f", Bp: "e", ID: id, Ts: micros(w.at), Pid: tracePid, Tid: w.to})
	}
}

// segmentEvent returns the complete event for one segment of lane l.
func segmentEvent(tl *timeline, l *lane, s segment) traceEvent {
	e := traceEvent{Ph: "X", Ts: micros(s.start), Dur: micros(s.end - s.start), Pid: tracePid, Tid: l.id}
	args := map[string]any{}
	switch {
	case s.state == stateRunning:
		e.Name, e.Cat = "run", "run"
	case s.state == stateReady:
		e.Name, e.Cat = "ready", "ready"
		args["cause"] = s.label
	default:
		e.Name, e.Cat = s.label, s.state.wait().String()
		if e.Name == "" {
			e.Name = s.state.title()
		}
		args["state"] = s.state.title()
		if s.deadline != 0 {
			args["deadline_us"] = *micros(s.deadline)
		}
		if s.timedOut {
			args["timed_out"] = true
		}
	}
	if by := tl.waker(s); by != "" {
		args["woken_by"] = by
	}
	if len(args) > 0 {
		e.Args = args
	}
	return e
}

// taskName returns "name #ID" for task id, "#ID" if the stream lost its
// events.
func (tl *timeline) taskName(id uint64) string {
	if l := tl.lane(id); l != nil {
		return l.label()
	}
	return "#" + strconv.FormatUint(id, 10)
}

// waker says who ended a wait or made a task ready: "name #ID" for a task,
// "loop (why)" for the loop, "" if the stream does not say.
func (tl *timeline) waker(s segment) string {
	switch {
	case s.peer != 0:
		return tl.taskName(s.peer)
	case s.wake != "":
		return "loop (" + s.wake + ")"
	}
	return ""
}
