package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lwtask/lwtask"
	"github.com/lwtask/lwtask/fdqueue/poller"
)

// What the server shows of itself: the task table on SIGUSR1, the metrics
// at exit (-v) and over HTTP (-expvar), the timeline (-trace). Each is
// asked of a real server, as a client or an operator would ask it.

// forEachShape runs f in parallel subtests, one per shape of server whose
// tasks differ: generator handlers, step handlers, and two loops. The
// backend makes no difference here, so the first one does.
func forEachShape(t *testing.T, f func(t *testing.T, shape string)) {
	first := poller.Names()[0]
	for _, shape := range []string{first, first + "+step", first + "+loops2"} {
		t.Run(shape, func(t *testing.T) {
			t.Parallel()
			f(t, shape)
		})
	}
}

// loopsOf returns how many event loops a server of that shape runs.
func loopsOf(shape string) int {
	if strings.HasSuffix(shape, "+loops2") {
		return 2
	}
	return 1
}

// ask makes one request on c, failing the test if the reply is wrong.
func ask(t *testing.T, c *client, n int) {
	t.Helper()
	if err := c.ask(fmt.Sprintf("SPAM %d\n", n), n); err != nil {
		t.Fatal(err)
	}
}

// signal sends sig to the server.
func (s *testServer) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// waitLines waits until the server has written n complete lines for which
// match is true, and returns them all.
func (s *testServer) waitLines(t *testing.T, what string, n int, match func(string) bool) []string {
	t.Helper()
	timeout := time.NewTimer(patience)
	defer timeout.Stop()
	for {
		o := s.stderr
		o.mu.Lock()
		text, changed := o.buf.String(), o.changed
		o.mu.Unlock()
		if lines := matchingLines(text, match); len(lines) >= n {
			return lines
		}
		select {
		case <-changed:
		case <-s.done:
			if lines := matchingLines(o.String(), match); len(lines) >= n {
				return lines
			}
			t.Fatalf("server exited without writing %d× %s; stderr:\n%s", n, what, o)
		case <-timeout.C:
			t.Fatalf("server never wrote %d× %s; stderr:\n%s", n, what, o)
		}
	}
}

func matchingLines(text string, match func(string) bool) []string {
	var out []string
	lines := strings.SplitAfter(text, "\n")
	for _, line := range lines[:len(lines)-1] { // the last one is incomplete
		if line = strings.TrimSuffix(line, "\n"); match(line) {
			out = append(out, line)
		}
	}
	return out
}

// retry calls f until it succeeds, for what the server does in the
// background and says nowhere it has done (a file written on SIGUSR1).
func retry(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The task table, as Runtime.Dump writes it.
var (
	isDumpHeader = func(line string) bool {
		return strings.Join(strings.Fields(line), " ") == "ID NAME STATE WAITING FOR WAITED"
	}
	// The task accepting connections, waiting for one: named "listener" in
	// the generator style, "accept on ADDR" otherwise.
	listenerRow = regexp.MustCompile(`^\d+ +(listener|accept on \S+) +blocked +fd \d+ read +\S+$`)
)

// TestDumpOnSIGUSR1: kill -USR1 prints every loop's task table, with the
// listener and an idle client's handler waiting to read, and the server
// goes on serving, and dumping.
func TestDumpOnSIGUSR1(t *testing.T) {
	forEachShape(t, func(t *testing.T, shape string) {
		s := startServer(t, config{poller: shape, quiet: true})
		loops := loopsOf(shape)
		c := dial(t, s.addr)
		ask(t, c, 1) // the handler exists, and waits for the next request
		for dumps := 1; dumps <= 2; dumps++ {
			s.signal(t, syscall.SIGUSR1)
			s.waitLines(t, "a task table header", dumps*loops, isDumpHeader)
		}

		// The table goes out in one write, so once its header is in, so
		// are its rows.
		if rows := matchingLines(s.stderr.String(), listenerRow.MatchString); len(rows) == 0 {
			t.Errorf("no listener waiting for connections in the dump:\n%s", s.stderr)
		}
		handler := func(line string) bool {
			return strings.Contains(line, c.localAddr()) && strings.Contains(line, " blocked ")
		}
		if rows := matchingLines(s.stderr.String(), handler); len(rows) == 0 {
			t.Errorf("no task for the connection from %s blocked in the dump:\n%s", c.localAddr(), s.stderr)
		}
		if loops > 1 {
			for i := range loops {
				want := fmt.Sprintf("loop %d:", i)
				s.waitLines(t, want, 2, func(line string) bool { return line == want })
			}
		}

		ask(t, c, 2)
		ask(t, dial(t, s.addr), 3)
	})
}

// The metrics line -v prints for each loop at exit.
var metricsLine = regexp.MustCompile(`^spamserver: loop (\d+) metrics: (\{.*\})$`)

// TestVerboseMetrics: with -v, the server prints each loop's metrics as
// JSON when it exits, and they add up to what it did.
func TestVerboseMetrics(t *testing.T) {
	forEachShape(t, func(t *testing.T, shape string) {
		s := startServer(t, config{poller: shape, quiet: true, args: []string{"-v"}})
		const clients = 3
		for i := range clients {
			ask(t, dial(t, s.addr), i+1)
		}
		if code := s.stop(t, syscall.SIGINT); code != 0 {
			t.Fatalf("exit status %d; stderr:\n%s", code, s.stderr)
		}

		ms := make([]lwtask.Metrics, loopsOf(shape))
		seen := make([]bool, len(ms))
		for _, line := range matchingLines(s.stderr.String(), metricsLine.MatchString) {
			m := metricsLine.FindStringSubmatch(line)
			i, _ := strconv.Atoi(m[1])
			if i >= len(ms) || seen[i] {
				t.Fatalf("unexpected or repeated %q", line)
			}
			ms[i], seen[i] = decodeMetrics(t, m[2]), true
		}
		for i, m := range ms {
			if !seen[i] {
				t.Fatalf("no metrics for loop %d; stderr:\n%s", i, s.stderr)
			}
			// Every loop waited for work, at least while nothing came.
			if m.Polls == 0 {
				t.Errorf("loop %d never polled: %+v", i, m)
			}
		}
		// At exit the counters are up to date.
		if err := metricsError(addMetrics(ms), clients); err != nil {
			t.Error(err)
		}
	})
}

// decodeMetrics decodes one loop's metrics, refusing fields that are not
// lwtask.Metrics'.
func decodeMetrics(t *testing.T, text string) lwtask.Metrics {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(text))
	d.DisallowUnknownFields()
	var m lwtask.Metrics
	if err := d.Decode(&m); err != nil {
		t.Fatalf("metrics %s: %v", text, err)
	}
	return m
}

// metricsError says what is wrong with the loops' metrics added up, after
// clients were served one request each: there must be a task per
// connection, and one or more to accept them, each of which took a step
// at least.
func metricsError(sum lwtask.Metrics, clients int) error {
	switch {
	case sum.Created < uint64(1+clients):
		return fmt.Errorf("%d tasks created for %d clients: %+v", sum.Created, clients, sum)
	case sum.Steps < sum.Created:
		return fmt.Errorf("fewer steps than tasks: %+v", sum)
	case sum.Switches > sum.Steps || sum.BudgetYields > sum.Steps:
		return fmt.Errorf("more switches or budget yields than steps: %+v", sum)
	case sum.MaxReady < 1:
		return fmt.Errorf("no task was ever ready: %+v", sum)
	}
	return nil
}

// addMetrics returns the loops' counters added up (the highest MaxReady).
func addMetrics(ms []lwtask.Metrics) lwtask.Metrics {
	var sum lwtask.Metrics
	for _, m := range ms {
		sum.Created += m.Created
		sum.Steps += m.Steps
		sum.Switches += m.Switches
		sum.BudgetYields += m.BudgetYields
		sum.MaxReady = max(sum.MaxReady, m.MaxReady)
	}
	return sum
}

// TestTrace: -trace writes the timeline when the server exits, as a
// Chrome trace or a web page, one file per loop with -loops, with a lane
// for the listener and one for the client's handler.
func TestTrace(t *testing.T) {
	first := poller.Names()[0]
	for _, ext := range []string{"json", "html"} {
		for _, shape := range []string{first, first + "+loops2"} {
			t.Run(ext+"/"+shape, func(t *testing.T) {
				t.Parallel()
				path := filepath.Join(t.TempDir(), "trace."+ext)
				s := startServer(t, config{poller: shape, quiet: true, args: []string{"-trace", path}})
				c := dial(t, s.addr)
				ask(t, c, 2)
				if code := s.stop(t, syscall.SIGTERM); code != 0 {
					t.Fatalf("exit status %d; stderr:\n%s", code, s.stderr)
				}

				files := traceFiles(path, loopsOf(shape))
				if len(files) > 1 {
					if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
						t.Errorf("%s written as well as the per-loop files (%v)", path, err)
					}
				}
				var names []string
				for _, file := range files {
					lanes, err := taskNames(file)
					if err != nil {
						t.Fatal(err)
					}
					names = append(names, lanes...)
				}
				checkLanes(t, names, c.localAddr())
			})
		}
	}
}

// TestTraceOnSIGUSR1: SIGUSR1 writes the trace so far too, while the
// server goes on serving.
func TestTraceOnSIGUSR1(t *testing.T) {
	for _, ext := range []string{"json", "html"} {
		t.Run(ext, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "trace."+ext)
			s := startServer(t, config{quiet: true, args: []string{"-trace", path}})
			c := dial(t, s.addr)
			ask(t, c, 1)
			s.signal(t, syscall.SIGUSR1)
			// The trace is written after the task table, with no word
			// when it is done: until then the file may be missing or cut
			// short.
			s.waitLines(t, "a task table header", 1, isDumpHeader)
			var names []string
			retry(t, "trace written on SIGUSR1", func() (err error) {
				names, err = taskNames(path)
				return err
			})
			checkLanes(t, names, c.localAddr())
			ask(t, c, 2)
		})
	}
}

// traceFiles returns the files -trace path writes for a server with that
// many loops: path itself, or path.loopI.ext for each.
func traceFiles(path string, loops int) []string {
	if loops == 1 {
		return []string{path}
	}
	ext := filepath.Ext(path)
	var files []string
	for i := range loops {
		files = append(files, fmt.Sprintf("%s.loop%d%s", strings.TrimSuffix(path, ext), i, ext))
	}
	return files
}

// taskNames reads a timeline file, Chrome trace or page, and returns the
// labels of its tasks' lanes, "name #ID". It fails on a file that is
// incomplete.
func taskNames(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(path, ".json") {
		return traceTaskNames(b)
	}
	return pageTaskNames(b)
}

// traceTaskNames returns the names of a Chrome trace's task threads: the
// thread_name events of process 1 but the event loop's, thread 0.
func traceTaskNames(b []byte) ([]string, error) {
	var trace struct {
		TraceEvents []struct {
			Name string
			Pid  int
			Tid  uint64
			Args struct{ Name string }
		}
	}
	if err := json.Unmarshal(b, &trace); err != nil {
		return nil, fmt.Errorf("chrome trace: %w", err)
	}
	var names []string
	loop := false
	for _, e := range trace.TraceEvents {
		if e.Name != "thread_name" || e.Pid != 1 {
			continue
		}
		if e.Tid == 0 {
			loop = e.Args.Name == "event loop"
			continue
		}
		names = append(names, e.Args.Name)
	}
	if !loop {
		return nil, errors.New(`chrome trace: no "event loop" thread`)
	}
	return names, nil
}

// pageTaskNames returns the labels of a timeline page's task lanes, from
// the JSON the page embeds.
func pageTaskNames(b []byte) ([]string, error) {
	page := string(b)
	const open = `<script type="application/json" id="timeline-data">`
	_, data, ok := strings.Cut(page, open)
	data, _, closed := strings.Cut(data, "</script>")
	switch {
	case !strings.HasPrefix(page, "<!DOCTYPE html"):
		return nil, fmt.Errorf("page starts %q, want <!DOCTYPE html", abbrev(b))
	case !ok || !closed:
		return nil, fmt.Errorf("page without its script id=timeline-data")
	case !strings.HasSuffix(strings.TrimSpace(page), "</html>"):
		return nil, fmt.Errorf("page cut short")
	}
	var d struct{ Lanes []struct{ Label string } }
	if err := json.Unmarshal([]byte(data), &d); err != nil {
		return nil, fmt.Errorf("page's timeline-data: %w", err)
	}
	var names []string
	for _, l := range d.Lanes {
		names = append(names, l.Label)
	}
	return names, nil
}

// checkLanes checks that a timeline has a lane for the listener and one
// for the connection from client, each labelled "name #ID".
func checkLanes(t *testing.T, names []string, client string) {
	t.Helper()
	label := regexp.MustCompile(`^((listener|accept on \S+)|.*` + regexp.QuoteMeta(client) + `) #\d+$`)
	var listener, handler bool
	for _, name := range names {
		m := label.FindStringSubmatch(name)
		listener = listener || m != nil && m[2] != ""
		handler = handler || m != nil && m[2] == ""
	}
	if !listener || !handler {
		t.Errorf("task lanes %q: want the listener's and one for the connection from %s", names, client)
	}
}

// TestExpvar: -expvar serves every loop's metrics as JSON, under "lwtask"
// at /debug/vars, on the address it logs.
func TestExpvar(t *testing.T) {
	first := poller.Names()[0]
	for _, shape := range []string{first, first + "+loops2"} {
		t.Run(shape, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, config{poller: shape, quiet: true, args: []string{"-expvar", "127.0.0.1:0"}})
			url := metricsURL(t, s.waitLog(t, "the metrics' address", isMetricsLine))
			ask(t, dial(t, s.addr), 1)
			// A loop publishes its counters before it waits, and every few
			// dozen turns: the reply may be in before they count the
			// client's handler, but not for long.
			retry(t, "metrics counting the client", func() error {
				ms, err := getMetrics(url)
				if err != nil {
					return err
				}
				if len(ms) != loopsOf(shape) {
					return fmt.Errorf("metrics of %d loops, want %d: %+v", len(ms), loopsOf(shape), ms)
				}
				return metricsError(addMetrics(ms), 1)
			})
		})
	}
}

func isMetricsLine(line string) bool { return strings.HasPrefix(line, "Metrics on http://") }

// metricsURL returns the URL a "Metrics on" line gives.
func metricsURL(t *testing.T, line string) string {
	t.Helper()
	url, ok := strings.CutPrefix(line, "Metrics on ")
	if !ok || !strings.HasSuffix(url, "/debug/vars") {
		t.Fatalf("%q: want Metrics on http://ADDR/debug/vars", line)
	}
	return url
}

// getMetrics gets the loops' metrics from /debug/vars at url.
func getMetrics(url string) ([]lwtask.Metrics, error) {
	// No keep-alive: no connection, and no goroutine, outlives the call.
	hc := &http.Client{Timeout: patience, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	var vars struct {
		Lwtask []lwtask.Metrics `json:"lwtask"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&vars); err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if vars.Lwtask == nil {
		return nil, fmt.Errorf("GET %s: no lwtask metrics", url)
	}
	return vars.Lwtask, nil
}

// TestDumpWithStderrNotRead: a task dump to a standard error nobody reads
// must not keep the server from serving, or from exiting when told to, as
// log lines do not.
func TestDumpWithStderrNotRead(t *testing.T) {
	s, r, log := startPiped(t, "-expvar", "127.0.0.1:0")
	r.SetReadDeadline(time.Now().Add(patience))
	line, err := log.ReadString('\n')
	if err != nil {
		t.Fatalf("no metrics' address: %q, %v", line, err)
	}
	url := metricsURL(t, strings.TrimSuffix(line, "\n"))
	flood(t, s.addr) // fills the pipe
	before, err := getMetrics(url)
	if err != nil {
		t.Fatal(err)
	}

	s.signal(t, syscall.SIGUSR1)
	// The loop writes the table for the dump in a function posted to it.
	// Once that has run, the dump is writing the table out.
	retry(t, "the dump's table made", func() error {
		ms, err := getMetrics(url)
		if err == nil && ms[0].Posted == before[0].Posted {
			err = errors.New("no function posted since the signal")
		}
		return err
	})
	ask(t, dial(t, s.addr), 3)
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("after SIGTERM: %v", s.cmd.ProcessState)
	}
}
