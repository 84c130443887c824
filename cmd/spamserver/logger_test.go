package main

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// gatedWriter is a standard error that the test stalls at will: it tells
// the test of each write as it begins, waits for mu, and tells the test
// again when it is done.
type gatedWriter struct {
	mu                sync.Mutex
	started, finished chan string
	buf               bytes.Buffer
}

func newGatedWriter() *gatedWriter {
	return &gatedWriter{started: make(chan string, 4*logQueueLen), finished: make(chan string, 4*logQueueLen)}
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	g.started <- string(p)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.finished <- string(p)
	return g.buf.Write(p)
}

// await waits for line on c, skipping those before it.
func await(t *testing.T, c <-chan string, line string) {
	t.Helper()
	timeout := time.After(patience)
	for {
		select {
		case got := <-c:
			if got == line {
				return
			}
		case <-timeout:
			t.Fatalf("%q never written", line)
		}
	}
}

// TestLogWriterDrops fills the queue while the writer is stalled: the lines
// beyond it are dropped, and their number is written before the next line
// that gets through, or at Close.
func TestLogWriterDrops(t *testing.T) {
	g := newGatedWriter()
	l := newLogWriter(g)
	var want strings.Builder
	// expectStarted waits until the writer has begun to write line.
	expectStarted := func(line string) {
		t.Helper()
		select {
		case got := <-g.started:
			if got != line {
				t.Fatalf("writing %q, want %q", got, line)
			}
		case <-time.After(patience):
			t.Fatalf("%q never written", line)
		}
		want.WriteString(line)
	}
	// stallAndFill stalls the writer on a line of its own, so that the
	// queue is empty, then fills the queue and drops lost lines. The writer
	// must be idle.
	stallAndFill := func(name string, lost int) {
		g.mu.Lock()
		fmt.Fprintf(l, "%s stalls\n", name)
		expectStarted(name + " stalls\n")
		for i := range logQueueLen {
			fmt.Fprintf(l, "%s %d\n", name, i)
		}
		for range lost {
			fmt.Fprintf(l, "%s lost\n", name)
		}
		g.mu.Unlock()
		for i := range logQueueLen {
			expectStarted(fmt.Sprintf("%s %d\n", name, i))
		}
	}

	stallAndFill("first", 3)
	// The writer has taken the last line queued: there is room again.
	fmt.Fprintln(l, "through")
	expectStarted("spamserver: 3 log lines dropped\n")
	expectStarted("through\n")
	await(t, g.finished, "through\n")

	stallAndFill("second", 2)
	l.Close()
	expectStarted("spamserver: 2 log lines dropped\n")
	<-l.done
	if got := g.buf.String(); got != want.String() {
		t.Errorf("log:\n%s\nwant:\n%s", abbrev([]byte(got)), abbrev([]byte(want.String())))
	}

	fmt.Fprintln(l, "after Close") // neither written nor a panic
	if len(g.started) > 0 {
		t.Errorf("%q written after Close", <-g.started)
	}
}

// TestLogWriterStuck: Close does not wait for a writer that is stuck for
// good, as one writing to a pipe nobody reads is, lest the server could not
// exit.
func TestLogWriterStuck(t *testing.T) {
	g := newGatedWriter()
	l := newLogWriter(g)
	g.mu.Lock()
	fmt.Fprintln(l, "stuck")
	await(t, g.started, "stuck\n")
	fmt.Fprintln(l, "queued")
	closed := make(chan struct{})
	go func() {
		l.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(patience):
		t.Error("Close waits for a stuck writer")
	}
	// Unstick it, so that its goroutine ends before goleak looks.
	g.mu.Unlock()
	<-l.done
}
