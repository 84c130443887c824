package timeline_test

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/lwtask/lwtask/scheduler"
	"github.com/lwtask/lwtask/task"
	"github.com/lwtask/lwtask/timeline"
)

// A producer hands two values to a consumer over an unbuffered channel,
// with a recorder on: who waited for what, and who ended each wait. The
// producer comes first and waits for a receiver; the consumer takes the
// value, waking it, and waits for the next, which the producer hands
// straight to it.
func ExampleRecorder() {
	rec := timeline.NewRecorder(1000)
	s := scheduler.New(scheduler.WithRecorder(rec))
	ch := task.NewChan[int]("jobs", 0)
	s.Go("producer", func(t *task.Task) {
		for i := range 2 {
			ch.Send(t, i)
		}
		ch.Close()
	})
	s.Go("consumer", func(t *task.Task) {
		for range ch.All(t, nil) {
		}
	})
	if err := s.Run(); err != nil {
		fmt.Println(err)
	}
	for _, e := range rec.Events() {
		switch e.Kind {
		case timeline.Block:
			fmt.Printf("%s blocks on %s (%s)\n", e.Name, e.Wait, e.Label)
		case timeline.Wake:
			fmt.Printf("%s woken by task %d\n", e.Name, e.Peer)
		case timeline.Finish:
			fmt.Printf("%s finishes\n", e.Name)
		}
	}
	// Output:
	// producer blocks on channel (jobs send)
	// producer woken by task 2
	// consumer blocks on channel (jobs receive)
	// consumer woken by task 1
	// producer finishes
	// consumer finishes
}

// WriteJSON writes a Chrome trace, which Perfetto opens: here, the names
// of its threads, one a task and one for the event loop.
func ExampleWriteJSON() {
	rec := timeline.NewRecorder(100)
	s := scheduler.New(scheduler.WithRecorder(rec))
	s.Go("hello", func(t *task.Task) { t.Yield() })
	s.Go("world", func(t *task.Task) {})
	if err := s.Run(); err != nil {
		fmt.Println(err)
	}
	var b bytes.Buffer
	if err := timeline.WriteJSON(&b, rec.Events()); err != nil {
		fmt.Println(err)
	}
	var trace struct {
		TraceEvents []struct {
			Name string
			Args struct{ Name string }
		}
	}
	if err := json.Unmarshal(b.Bytes(), &trace); err != nil {
		fmt.Println(err)
	}
	for _, e := range trace.TraceEvents {
		if e.Name == "thread_name" {
			fmt.Println(e.Args.Name)
		}
	}
	// Output:
	// event loop
	// hello #1
	// world #2
}
