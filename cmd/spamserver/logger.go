package main

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// logQueueLen is how many log lines may wait to be written out: 50 KiB or
// so, a burst of connections that a reader keeping up at all catches up
// with, and little memory when nobody reads.
const logQueueLen = 1024

// logStuckAfter is how long Close waits for a writer that writes nothing.
const logStuckAfter = time.Second

// logWriter is the server's standard error as the event loop sees it.
// Writing to standard error can block: a pipe whose reader has stopped
// reading fills after 64 KiB, and the loop's goroutine, with every task on
// it, would wait with it. So Write only queues the line, for a goroutine of
// its own to write out, and when the queue is full drops it and counts it.
// The count goes out just before the next line that gets through, or at
// Close.
type logWriter struct {
	w       io.Writer
	queue   chan logLine
	done    chan struct{} // closed when the goroutine ends
	written atomic.Int64  // lines written out, so that Close can tell a slow writer from a stuck one

	mu      sync.Mutex
	dropped int // lines dropped since the last one queued
	closed  bool
	atClose int // lines dropped after the last one queued, written at the end
}

type logLine struct {
	dropped int // lines dropped just before this one
	text    []byte
}

func newLogWriter(w io.Writer) *logWriter {
	l := &logWriter{w: w, queue: make(chan logLine, logQueueLen), done: make(chan struct{})}
	go l.drain()
	return l
}

// Write queues p, or drops it if the queue is full. It never fails, so that
// the log package goes on logging.
func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return len(p), nil
	}
	select {
	case l.queue <- logLine{l.dropped, bytes.Clone(p)}:
		l.dropped = 0
	default:
		l.dropped++
	}
	return len(p), nil
}

func (l *logWriter) drain() {
	defer close(l.done)
	for line := range l.queue {
		l.reportDropped(line.dropped)
		// An error (EPIPE once the reader has gone) loses this line only:
		// the next may find a reader again, as on a terminal.
		l.w.Write(line.text)
		l.written.Add(1)
	}
	l.reportDropped(l.atClose)
}

func (l *logWriter) reportDropped(n int) {
	if n > 0 {
		fmt.Fprintf(l.w, "spamserver: %d log lines dropped\n", n)
	}
}

// Close writes out the lines queued and ends the goroutine, unless the
// writer is stuck: once it has written nothing for logStuckAfter, Close
// returns and leaves the goroutine blocked in its write. The server exits
// right after, and a reader that never reads must not keep it from exiting.
func (l *logWriter) Close() {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		l.atClose = l.dropped
		close(l.queue)
	}
	l.mu.Unlock()
	tick := time.NewTicker(logStuckAfter)
	defer tick.Stop()
	last := l.written.Load()
	for {
		select {
		case <-l.done:
			return
		case <-tick.C:
			n := l.written.Load()
			if n == last {
				return
			}
			last = n
		}
	}
}
