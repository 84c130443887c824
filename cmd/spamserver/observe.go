package main

import (
	"context"
	"expvar"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lwtask/lwtask"
	"github.com/lwtask/lwtask/internal/sigdump"
	"github.com/lwtask/lwtask/timeline"
)

// observer is what the server shows of its event loops: the task table on
// SIGUSR1, a timeline of the last events (-trace), the metrics at exit
// (-v) and over HTTP (-expvar).
type observer struct {
	log       *log.Logger
	stderr    io.Writer
	trace     string // -trace: where the timeline goes, .json or .html
	events    int    // -trace-events: how many of the last events it keeps
	verbose   bool   // -v
	expvar    string // -expvar: the address to serve /debug/vars on
	recorders []*timeline.Recorder
	rts       []*lwtask.Runtime
	mu        sync.Mutex // serialises writes of the trace: a signal's and the exit's
	http      *http.Server
	stopDump  func()
}

// check refuses flags that cannot work, before anything starts.
func (o *observer) check() error {
	if o.trace != "" {
		if timeline.Format(o.trace) == "" {
			return fmt.Errorf("-trace %s: want a .json or .html file", o.trace)
		}
		if o.events < 1 {
			return fmt.Errorf("-trace-events %d: want at least 1", o.events)
		}
	}
	return nil
}

// start watches rts, which have not run yet: with -trace each gets a
// recorder, SIGUSR1 dumps their tasks (and writes the trace), and with
// -expvar their metrics are served. It returns an error if the -expvar
// address cannot be listened on.
func (o *observer) start(rts []*lwtask.Runtime) error {
	o.rts = rts
	if o.trace != "" {
		for _, rt := range rts {
			rec := timeline.NewRecorder(o.events)
			rt.SetRecorder(rec)
			o.recorders = append(o.recorders, rec)
		}
	}
	if o.expvar != "" {
		l, err := net.Listen("tcp", o.expvar)
		if err != nil {
			return fmt.Errorf("-expvar: %w", err)
		}
		expvar.Publish("lwtask", expvar.Func(func() any { return o.metrics() }))
		o.http = &http.Server{Handler: expvar.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go o.http.Serve(l)
		o.log.Print("Metrics on http://", l.Addr(), "/debug/vars")
	}
	o.stopDump = sigdump.On(o.dump, syscall.SIGUSR1)
	return nil
}

// dump prints every loop's task table to standard error, and writes the
// trace so far: what SIGUSR1 does.
func (o *observer) dump() {
	for i, rt := range o.rts {
		if len(o.rts) > 1 {
			fmt.Fprintf(o.stderr, "loop %d:\n", i)
		}
		if err := rt.Dump(o.stderr); err != nil {
			o.log.Print("spamserver: task dump: ", err)
		}
	}
	o.writeTrace()
}

// finish writes the trace, stops watching for SIGUSR1 and, with -v, prints the
// metrics: what the server does as it exits.
func (o *observer) finish() {
	if o.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		o.http.Shutdown(ctx)
		cancel()
	}
	o.writeTrace()
	// SIGUSR1 is watched until the trace is written: unwatched, it would
	// end the server in the middle of the file.
	if o.stopDump != nil {
		o.stopDump()
	}
	if o.verbose {
		for i, m := range o.metrics() {
			o.log.Printf("spamserver: loop %d metrics: %s", i, m)
		}
	}
}

// metrics returns each loop's metrics.
func (o *observer) metrics() []lwtask.Metrics {
	ms := make([]lwtask.Metrics, len(o.rts))
	for i, rt := range o.rts {
		ms[i] = rt.Metrics()
	}
	return ms
}

// writeTrace writes what each loop's recorder holds: to the -trace file
// for one loop, and to FILE.loopN.EXT for several.
func (o *observer) writeTrace() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, rec := range o.recorders {
		path := o.trace
		if len(o.recorders) > 1 {
			ext := filepath.Ext(path)
			path = fmt.Sprintf("%s.loop%d%s", strings.TrimSuffix(path, ext), i, ext)
		}
		events, title := rec.Events(), "spamserver"
		if dropped := rec.Dropped(); dropped > 0 {
			title = fmt.Sprintf("spamserver: the last %d events (%d before them not kept)", len(events), dropped)
		}
		if err := timeline.WriteFile(path, events, title); err != nil {
			o.log.Print("spamserver: ", err)
		}
	}
}
