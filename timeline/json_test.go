package timeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// sampleStream is a short run of a program with every kind of event: a
// producer feeding a consumer over a channel, a task reading a descriptor,
// one sleeping in a select, one panicking, one killed while blocked.
func sampleStream() []Event {
	return []Event{
		ev(1, Create, 1),
		ev(1, Create, 2),
		ev(2, Create, 3),
		ev(2, Create, 4),
		ev(3, Start, 2),
		ev(4, Block, 2).wait(WaitChan, "jobs receive"),
		ev(5, End, 2).arg(EndBlock),
		ev(5, Start, 1),
		ev(7, Wake, 2).peer(1),
		ev(8, Budget, 1),
		ev(9, End, 1).arg(EndYield),
		ev(10, Start, 3),
		ev(11, Block, 3).wait(WaitIO, "fd 7 read"),
		ev(11, End, 3).arg(EndBlock),
		ev(12, Start, 4),
		ev(13, Block, 4).wait(WaitSelect, "ticks or done").arg(int64(us(27))), // a deadline at 40,
		ev(13, End, 4).arg(EndBlock),
		ev(30, Poll, 0).arg(int64(us(16))).n(1),
		ev(31, Wake, 3).label("poller"),
		ev(32, Post, 0).n(2),
		ev(33, Start, 2),
		ev(34, End, 2).arg(EndFinish),
		ev(34, Panic, 2).label(`index out of range [3] with length 3`),
		ev(40, Timer, 4),
		ev(41, Wake, 4).label("timer"),
		ev(42, Kill, 3),
		ev(43, Start, 4),
		ev(44, End, 4).arg(EndFinish),
		ev(44, Finish, 4),
		ev(45, Start, 1),
	}
}

// traceFile is what WriteJSON writes, decoded with numbers kept as written.
type traceFile struct {
	TraceEvents     []map[string]any `json:"traceEvents"`
	DisplayTimeUnit string           `json:"displayTimeUnit"`
}

func decodeTrace(t *testing.T, b []byte) traceFile {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var f traceFile
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("not a trace: %v\n%s", err, b)
	}
	if dec.More() {
		t.Fatalf("more after the trace object")
	}
	return f
}

func writeTraceOf(t *testing.T, events []Event) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteJSON(&b, events); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// validateTrace checks every event against the Trace Event Format's
// documented fields, and what Perfetto needs besides: complete events on a
// thread that do not overlap, flow starts and finishes in pairs, every
// thread named. It returns the events by phase.
func validateTrace(t *testing.T, f traceFile) map[string][]map[string]any {
	t.Helper()
	if f.DisplayTimeUnit != "ns" && f.DisplayTimeUnit != "ms" {
		t.Errorf("displayTimeUnit %q", f.DisplayTimeUnit)
	}
	allowed := map[string]bool{"name": true, "cat": true, "ph": true, "ts": true, "dur": true, "pid": true,
		"tid": true, "s": true, "id": true, "bp": true, "args": true}
	num := func(e map[string]any, k string) (float64, bool) {
		n, ok := e[k].(json.Number)
		if !ok {
			return 0, false
		}
		v, err := n.Float64()
		return v, err == nil && !math.IsInf(v, 0) && !math.IsNaN(v)
	}
	integer := func(e map[string]any, k string) (int64, bool) {
		n, ok := e[k].(json.Number)
		if !ok {
			return 0, false
		}
		v, err := n.Int64()
		return v, err == nil
	}
	byPh := map[string][]map[string]any{}
	type thread struct{ pid, tid int64 }
	named := map[thread]bool{}
	type flow struct {
		s, f int
		sTs  float64
	}
	flows := map[int64]*flow{}
	for i, e := range f.TraceEvents {
		where := fmt.Sprintf("event %d %v", i, e)
		for k := range e {
			if !allowed[k] {
				t.Errorf("%s: field %q is not one this exporter should use", where, k)
			}
		}
		if _, ok := e["name"].(string); !ok {
			t.Errorf("%s: name is not a string", where)
		}
		if c, ok := e["cat"]; ok {
			if _, ok := c.(string); !ok {
				t.Errorf("%s: cat is not a string", where)
			}
		}
		if a, ok := e["args"]; ok {
			if _, ok := a.(map[string]any); !ok {
				t.Errorf("%s: args is not an object", where)
			}
		}
		pid, ok := integer(e, "pid")
		if !ok {
			t.Errorf("%s: pid is not an integer", where)
		}
		tid, ok := integer(e, "tid")
		if !ok {
			t.Errorf("%s: tid is not an integer", where)
		}
		ph, _ := e["ph"].(string)
		byPh[ph] = append(byPh[ph], e)
		if ph != "M" {
			if ts, ok := num(e, "ts"); !ok || ts < 0 {
				t.Errorf("%s: ts missing, not a number or negative", where)
			}
		}
		switch ph {
		case "M":
			args, _ := e["args"].(map[string]any)
			switch e["name"] {
			case "process_name", "thread_name":
				if _, ok := args["name"].(string); !ok {
					t.Errorf("%s: no args.name", where)
				}
				if e["name"] == "thread_name" {
					named[thread{pid, tid}] = true
				}
			case "thread_sort_index":
				if _, ok := integer(args, "sort_index"); !ok {
					t.Errorf("%s: no integer args.sort_index", where)
				}
			default:
				t.Errorf("%s: unknown metadata", where)
			}
		case "X":
			if d, ok := num(e, "dur"); !ok || d < 0 {
				t.Errorf("%s: dur missing, not a number or negative", where)
			}
		case "i":
			if s := e["s"]; s != "g" && s != "p" && s != "t" {
				t.Errorf("%s: instant scope %v", where, s)
			}
		case "s", "f":
			id, ok := integer(e, "id")
			if !ok {
				t.Errorf("%s: flow without an integer id", where)
				continue
			}
			fl := flows[id]
			if fl == nil {
				fl = &flow{}
				flows[id] = fl
			}
			if ph == "s" {
				fl.s++
				fl.sTs, _ = num(e, "ts")
			} else {
				fl.f++
				if e["bp"] != "e" {
					t.Errorf("%s: flow finish without bp e", where)
				}
				if ts, _ := num(e, "ts"); ts < fl.sTs {
					t.Errorf("%s: flow finishes before it starts", where)
				}
			}
		default:
			t.Errorf("%s: phase %q", where, ph)
		}
	}
	for id, fl := range flows {
		if fl.s != 1 || fl.f != 1 {
			t.Errorf("flow %d: %d starts and %d finishes", id, fl.s, fl.f)
		}
	}
	// Every thread used is named, and its complete events do not overlap
	// (Perfetto nests overlapping slices, which would misdraw a lane).
	ends := map[thread]float64{}
	for _, ph := range []string{"X", "i", "s", "f"} {
		for _, e := range byPh[ph] {
			pid, _ := integer(e, "pid")
			tid, _ := integer(e, "tid")
			th := thread{pid, tid}
			if !named[th] {
				t.Errorf("event %v on an unnamed thread", e)
			}
			if ph != "X" {
				continue
			}
			ts, _ := num(e, "ts")
			dur, _ := num(e, "dur")
			if ts < ends[th]-1e-6 {
				t.Errorf("event %v overlaps the one before on its thread", e)
			}
			ends[th] = ts + dur
		}
	}
	return byPh
}

func TestWriteJSONValid(t *testing.T) {
	f := decodeTrace(t, writeTraceOf(t, sampleStream()))
	byPh := validateTrace(t, f)

	var threads []string
	for _, e := range byPh["M"] {
		if e["name"] == "thread_name" {
			threads = append(threads, e["args"].(map[string]any)["name"].(string))
		}
	}
	if want := []string{"event loop", "t1 #1", "t2 #2", "t3 #3", "t4 #4"}; !slices.Equal(threads, want) {
		t.Errorf("threads %q, want %q", threads, want)
	}

	find := func(ph, name string, tid int) map[string]any {
		t.Helper()
		for _, e := range byPh[ph] {
			if e["name"] == name && e["tid"] == json.Number(fmt.Sprint(tid)) {
				return e
			}
		}
		t.Fatalf("no %s event %q on thread %d", ph, name, tid)
		return nil
	}
	wait := find("X", "jobs receive", 2)
	if wait["cat"] != "channel" || wait["ts"] != json.Number("5") || wait["dur"] != json.Number("2") {
		t.Errorf("the consumer's wait: %v", wait)
	}
	if by := wait["args"].(map[string]any)["woken_by"]; by != "t1 #1" {
		t.Errorf("the consumer's wait was ended by %v, want t1 #1", by)
	}
	sel := find("X", "ticks or done", 4)
	args := sel["args"].(map[string]any)
	if sel["cat"] != "select" || args["deadline_us"] != json.Number("40") || args["timed_out"] != true || args["woken_by"] != "loop (timer)" {
		t.Errorf("the select: %v", sel)
	}
	if e := find("X", "fd 7 read", 3); e["cat"] != "I/O" || e["dur"] != json.Number("20") {
		t.Errorf("the read: %v", e)
	}
	if e := find("X", "poll", 0); e["ts"] != json.Number("14") || e["args"].(map[string]any)["events"] != json.Number("1") {
		t.Errorf("the poll: %v", e)
	}
	if e := find("i", "post", 0); e["args"].(map[string]any)["functions"] != json.Number("2") {
		t.Errorf("the post: %v", e)
	}
	if e := find("i", "panic", 2); e["args"].(map[string]any)["value"] != "index out of range [3] with length 3" {
		t.Errorf("the panic: %v", e)
	}
	find("i", "budget", 1)
	find("i", "timer", 4)
	find("i", "kill", 3)
	find("i", "finish", 4)
	// The producer runs on to the end of the stream.
	var last map[string]any
	for _, e := range byPh["X"] {
		if e["tid"] == json.Number("1") {
			last = e
		}
	}
	if last["name"] != "run" || last["ts"] != json.Number("45") || last["dur"] != json.Number("0") {
		t.Errorf("the producer's last slice: %v", last)
	}
	if len(byPh["s"]) != 1 || byPh["s"][0]["tid"] != json.Number("1") || byPh["f"][0]["tid"] != json.Number("2") {
		t.Errorf("flows: %v %v, want one from task 1 to task 2", byPh["s"], byPh["f"])
	}
}

func TestWriteJSONDeterministic(t *testing.T) {
	events := sampleStream()
	first := writeTraceOf(t, events)
	for range 5 {
		if again := writeTraceOf(t, events); !bytes.Equal(first, again) {
			t.Fatalf("two traces of the same events differ:\n%s\n%s", first, again)
		}
	}
}

func TestWriteJSONOddNames(t *testing.T) {
	names := []string{
		`"quoted" \back\slash`,
		"new\nline\ttab\x00nul",
		"</script><img src=x onerror=alert(1)>",
		"ünïcødé 日本 \u2028\u2029 🙂",
		"",
	}
	var events []Event
	for i, name := range names {
		e := ev(i, Create, uint64(i+1))
		e.Name = name
		events = append(events, e)
	}
	f := decodeTrace(t, writeTraceOf(t, events))
	validateTrace(t, f)
	got := map[string]bool{}
	for _, e := range f.TraceEvents {
		if e["name"] == "thread_name" {
			got[e["args"].(map[string]any)["name"].(string)] = true
		}
	}
	for i, name := range names {
		if name == "" {
			name = "task"
		}
		if want := fmt.Sprintf("%s #%d", name, i+1); !got[want] {
			t.Errorf("no thread named %q in %v", want, got)
		}
	}
	// Invalid UTF-8 still makes valid JSON.
	bad := ev(0, Create, 1)
	bad.Name = "\xff\xfe"
	validateTrace(t, decodeTrace(t, writeTraceOf(t, []Event{bad})))
}

func TestWriteJSONEmpty(t *testing.T) {
	f := decodeTrace(t, writeTraceOf(t, nil))
	byPh := validateTrace(t, f)
	if len(byPh["M"]) != 3 || len(f.TraceEvents) != 3 {
		t.Errorf("an empty stream: %v, want the process and the loop named only", f.TraceEvents)
	}
}

// TestWriteJSONLongStream runs a stream much longer than a test would
// write by hand through the validator: many tasks, every step ending each
// way.
func TestWriteJSONLongStream(t *testing.T) {
	events := syntheticStream(50, 2000)
	f := decodeTrace(t, writeTraceOf(t, events))
	validateTrace(t, f)
	// Times are in microseconds, to the nanosecond.
	if !strings.Contains(string(writeTraceOf(t, []Event{{Time: 1500 * time.Nanosecond, Kind: Create, Task: 1}})), `"ts":1.5,`) {
		t.Errorf("1500ns is not written as 1.5µs")
	}
}

// syntheticStream makes a plausible stream of steps for tasks tasks,
// deterministic (a fixed linear congruential sequence decides), with
// waits of each kind, wakes by tasks and by the loop, polls and posts.
func syntheticStream(tasks, steps int) []Event {
	var events []Event
	now := time.Duration(0)
	x := uint64(1)
	rnd := func(n int) int {
		x = x*6364136223846793005 + 1442695040888963407
		return int(x>>33) % n
	}
	emit := func(e Event) {
		now += time.Duration(1 + rnd(3000))
		e.Time = now
		if e.Task != 0 {
			e.Name = fmt.Sprint("worker-", e.Task%7)
		}
		events = append(events, e)
	}
	blocked := map[uint64]bool{}
	var alive []uint64
	for id := uint64(1); id <= uint64(tasks); id++ {
		emit(Event{Kind: Create, Task: id})
		alive = append(alive, id)
	}
	for range steps {
		if len(alive) == 0 {
			break
		}
		id := alive[rnd(len(alive))]
		if blocked[id] {
			waker := Event{Kind: Wake, Task: id, Label: "poller"}
			if other := alive[rnd(len(alive))]; other != id && rnd(2) == 0 {
				waker.Peer, waker.Label = other, ""
			}
			if rnd(4) == 0 {
				emit(Event{Kind: Poll, Arg: int64(rnd(5000)), N: int64(rnd(4))})
			}
			emit(waker)
			blocked[id] = false
			continue
		}
		emit(Event{Kind: Start, Task: id})
		switch rnd(10) {
		case 0:
			emit(Event{Kind: Budget, Task: id})
			emit(Event{Kind: End, Task: id, Arg: EndYield})
		case 1:
			if rnd(20) != 0 { // most steps go on
				emit(Event{Kind: End, Task: id, Arg: EndYield})
				break
			}
			emit(Event{Kind: End, Task: id, Arg: EndFinish})
			emit(Event{Kind: Finish, Task: id})
			alive = slices.DeleteFunc(alive, func(a uint64) bool { return a == id })
		case 2, 3, 4, 5, 6:
			w := Wait(rnd(5))
			emit(Event{Kind: Block, Task: id, Wait: w, Label: fmt.Sprint(w, " ", rnd(9)), Arg: int64(now) + int64(rnd(100000))})
			emit(Event{Kind: End, Task: id, Arg: EndBlock})
			blocked[id] = true
		default:
			emit(Event{Kind: End, Task: id, Arg: EndYield})
		}
		if rnd(20) == 0 {
			emit(Event{Kind: Post, N: 1})
		}
	}
	return events
}

// resourceStream: two tasks share a fork, one of them ending with it
// (its Release comes after its Finish, as the scheduler abandons what an
// ended task held); three share a semaphore of two permits; and a Release
// whose Acquire the ring lost.
func resourceStream() []Event {
	return []Event{
		ev(1, Create, 1),
		ev(1, Create, 2),
		ev(1, Create, 3),
		ev(2, Acquire, 1).label("fork 1"),
		ev(3, Acquire, 2).label("sem"),
		ev(4, Acquire, 3).label("sem"),
		ev(5, Release, 1).label("fork 1"),
		ev(6, Acquire, 2).label("fork 1"),
		ev(7, Release, 3).label("sem"),
		ev(8, Acquire, 1).label("sem"),
		ev(9, Finish, 2),
		ev(9, Release, 2).label("fork 1"),
		ev(9, Release, 2).label("sem"),
		ev(10, Release, 3).label("lost"),
		ev(12, Start, 1),
	}
}

func TestReconstructResources(t *testing.T) {
	tl := reconstruct(resourceStream())
	want := []resource{
		{"fork 1", []hold{{us(2), us(5), 1}, {us(6), us(9), 2}}},
		{"lost", []hold{{us(1), us(10), 3}}}, // from task 3's first event
		{"sem", []hold{{us(3), us(9), 2}}},
		{"sem (2)", []hold{{us(4), us(7), 3}, {us(8), us(12), 1}}}, // still held at the end
	}
	var got []resource
	for _, r := range tl.resources {
		got = append(got, *r)
	}
	if !slices.EqualFunc(got, want, func(a, b resource) bool { return a.name == b.name && slices.Equal(a.holds, b.holds) }) {
		t.Errorf("resources:\n%+v\nwant\n%+v", got, want)
	}
	if l := tl.lane(2); !l.ended || l.end != us(9) {
		t.Errorf("task 2's lane: %+v; a Release after its end must not change it", l)
	}
}

func TestWriteJSONResources(t *testing.T) {
	byPh := validateTrace(t, decodeTrace(t, writeTraceOf(t, resourceStream())))
	threads := map[string]string{} // tid in process 2 -> name
	for _, e := range byPh["M"] {
		if e["pid"] == json.Number("2") && e["name"] == "thread_name" {
			threads[string(e["tid"].(json.Number))] = e["args"].(map[string]any)["name"].(string)
		}
	}
	if want := map[string]string{"1": "fork 1", "2": "lost", "3": "sem", "4": "sem (2)"}; !maps.Equal(threads, want) {
		t.Errorf("resource threads %v, want %v", threads, want)
	}
	var holds []string
	for _, e := range byPh["X"] {
		if e["pid"] == json.Number("2") {
			holds = append(holds, fmt.Sprintf("%s %s@%s+%s", threads[string(e["tid"].(json.Number))], e["name"], e["ts"], e["dur"]))
		}
	}
	want := []string{"fork 1 t1 #1@2+3", "fork 1 t2 #2@6+3", "lost t3 #3@1+9", "sem t2 #2@3+6", "sem (2) t3 #3@4+3", "sem (2) t1 #1@8+4"}
	if !slices.Equal(holds, want) {
		t.Errorf("holds %q, want %q", holds, want)
	}
}
