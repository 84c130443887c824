package main

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no goroutine outlives the tests: every task of
// every run ended, its coroutine too.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The tests assert no timings. A run that must finish has a timeout of an
// hour, which only a hang reaches; a run that must be cut short has work
// that cannot be done in its timeout whatever the speed of the machine:
// a million numbers, each taking a worker at least a millisecond.

// TestFinishes: the work is done before the deadline. Every number is
// squared and received once, each stage ends at the end of its input, and
// the channels are closed.
func TestFinishes(t *testing.T) {
	for _, args := range [][]string{
		{"-items", "20", "-workers", "3", "-work", "1ms", "-timeout", "1h"},
		{"-items", "200", "-workers", "5", "-work", "0", "-buffer", "0", "-timeout", "1h"},
		{"-items", "50", "-workers", "1", "-work", "0", "-buffer", "100", "-timeout", "1h"},
		{"-items", "0", "-workers", "2", "-timeout", "1h"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			cfg, out := runOK(t, args)
			r := parse(t, out, cfg)
			if r.final != fmt.Sprintf("all %d items done in time; the sum of their squares is %d", cfg.items, sumOfSquares(cfg.items)) {
				t.Errorf("last line %q", r.final)
			}
			if want := fmt.Sprintf("sent %d of %d numbers; all sent", cfg.items, cfg.items); r.producer != want {
				t.Errorf("producer: %q, want %q", r.producer, want)
			}
			for id, w := range r.workers {
				if !strings.HasSuffix(w, "; no more jobs") {
					t.Errorf("worker %d: %q, want it to end with its input", id, w)
				}
			}
			if want := fmt.Sprintf("received %d results; no more results", cfg.items); r.consumer != want {
				t.Errorf("consumer: %q, want %q", r.consumer, want)
			}
			if len(r.results) != cfg.items || r.squared != cfg.items {
				t.Errorf("%d results, %d squared, want %d", len(r.results), r.squared, cfg.items)
			}
			o, err := runPipeline(cfg, &bytes.Buffer{})
			if err != nil || !o.done || o.cutShort || o.consumed != cfg.items || !o.closed {
				t.Errorf("runPipeline: %+v, %v", o, err)
			}
		})
	}
}

// TestCutShort: the deadline passes first, with the producer waiting to
// send to a full channel, workers at work or waiting for jobs, and the
// consumer waiting for results. Every stage stops and ends, the channels
// are closed, the program says it was cut short, and Run returns nil
// (status 0).
func TestCutShort(t *testing.T) {
	for _, args := range [][]string{
		{"-items", "1000000", "-workers", "2", "-work", "1ms", "-timeout", "30ms"},
		{"-items", "1000000", "-workers", "4", "-work", "1ms", "-buffer", "0", "-timeout", "20ms"},
		{"-items", "1000000", "-workers", "1", "-work", "1ms", "-buffer", "50", "-timeout", "10ms"},
		// The deadline passes before anything has waited.
		{"-items", "1000000", "-workers", "3", "-work", "0", "-timeout", "1ns"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			cfg, out := runOK(t, args)
			r := parse(t, out, cfg)
			if want := fmt.Sprintf("cut short by the %v timeout: %d of %d items done", cfg.timeout, len(r.results), cfg.items); r.final != want {
				t.Errorf("last line %q, want %q", r.final, want)
			}
			// A million numbers are never all sent: the producer was
			// waiting, and the deadline stopped it. The others stopped
			// too, or ended with their input, closed because the stage
			// before stopped.
			const stopped = "; stopped: canceled: context deadline exceeded"
			if !strings.HasSuffix(r.producer, stopped) {
				t.Errorf("producer: %q, want it stopped", r.producer)
			}
			for id, w := range r.workers {
				if !strings.HasSuffix(w, stopped) && !strings.HasSuffix(w, "; no more jobs") {
					t.Errorf("worker %d: %q", id, w)
				}
			}
			if !strings.HasSuffix(r.consumer, stopped) && !strings.HasSuffix(r.consumer, "; no more results") {
				t.Errorf("consumer: %q", r.consumer)
			}
			// Sent, then squared and sent on, then received: each stage
			// got no more than the one before gave it.
			if !(r.sent >= r.squared && r.squared >= len(r.results) && len(r.results) < cfg.items) {
				t.Errorf("sent %d, squared %d, received %d", r.sent, r.squared, len(r.results))
			}
			o, err := runPipeline(cfg, &bytes.Buffer{})
			if err != nil || o.done || !o.cutShort || !o.closed {
				t.Errorf("runPipeline: %+v, %v", o, err)
			}
		})
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-items", "-1"}, {"-workers", "0"}, {"-work", "-1s"}, {"-buffer", "-1"},
		{"-timeout", "0"}, {"-timeout", "soon"}, {"-nonsense"}, {"extra"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 2 || stdout.Len() > 0 || stderr.Len() == 0 {
			t.Errorf("%q: exit status %d, stdout %q, stderr %q; want 2 and a message", args, code, stdout.String(), stderr.String())
		}
	}
	// Too much to do exactly, or to make: refused with one line, not a
	// wrong sum or a panic.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-items", "1000001"}, "pipeline: -items must be at most 1000000\n"},
		{[]string{"-items", "5000000", "-work", "0"}, "pipeline: -items must be at most 1000000\n"},
		{[]string{"-workers", "10001"}, "pipeline: -workers must be at most 10000\n"},
		{[]string{"-buffer", "10001"}, "pipeline: -buffer must be at most 10000\n"},
		{[]string{"-buffer", "100000000000000"}, "pipeline: -buffer must be at most 10000\n"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(tc.args, &stdout, &stderr); code != 2 || stdout.Len() > 0 || stderr.String() != tc.want {
			t.Errorf("%q: exit status %d, stdout %q, stderr %q; want 2 and %q", tc.args, code, stdout.String(), stderr.String(), tc.want)
		}
	}
}

// runOK runs the program with args, which must succeed, and returns the
// configuration the flags make and the output.
func runOK(t *testing.T, args []string) (config, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(args, &stdout, &stderr); code != 0 || stderr.Len() > 0 {
		t.Fatalf("exit status %d, stderr %q", code, stderr.String())
	}
	cfg, err := parseFlags(args, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, stdout.String()
}

// parsed is the output of a run, taken apart.
type parsed struct {
	results  []int          // the numbers whose squares the consumer printed
	producer string         // the producer's last words, after "producer: "
	workers  map[int]string // each worker's
	consumer string
	final    string
	sent     int // numbers the producer sent
	squared  int // numbers the workers squared and sent on
}

var (
	resultLine = regexp.MustCompile(`^(\d+) squared is (\d+) \(worker (\d+)\)$`)
	workerLine = regexp.MustCompile(`^worker (\d+): (squared (\d+) numbers; .*)$`)
	sentCount  = regexp.MustCompile(`^sent (\d+) of `)
)

// parse takes a run's output apart, checking every line: each result is
// right, each number comes once, each stage reports once, and the summary
// is last.
func parse(t *testing.T, out string, cfg config) parsed {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	r := parsed{workers: map[int]string{}, final: lines[len(lines)-1]}
	stages := 0
	for _, line := range lines[:len(lines)-1] {
		if m := resultLine.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			sq, _ := strconv.Atoi(m[2])
			w, _ := strconv.Atoi(m[3])
			if sq != n*n || n < 1 || n > cfg.items || w < 1 || w > cfg.workers || slices.Contains(r.results, n) {
				t.Errorf("bad result line %q", line)
			}
			r.results = append(r.results, n)
			continue
		}
		stages++
		if m := workerLine.FindStringSubmatch(line); m != nil {
			id, _ := strconv.Atoi(m[1])
			n, _ := strconv.Atoi(m[3])
			if _, dup := r.workers[id]; dup || id < 1 || id > cfg.workers {
				t.Errorf("bad worker line %q", line)
			}
			r.workers[id] = m[2]
			r.squared += n
		} else if p, ok := strings.CutPrefix(line, "producer: "); ok && r.producer == "" {
			r.producer = p
			if m := sentCount.FindStringSubmatch(p); m != nil {
				r.sent, _ = strconv.Atoi(m[1])
			}
		} else if c, ok := strings.CutPrefix(line, "consumer: "); ok && r.consumer == "" {
			r.consumer = c
		} else {
			t.Errorf("unexpected line %q", line)
		}
	}
	if stages != 2+cfg.workers || len(r.workers) != cfg.workers {
		t.Errorf("%d stages reported, want %d:\n%s", stages, 2+cfg.workers, out)
	}
	return r
}

func sumOfSquares(n int) int { return n * (n + 1) * (2*n + 1) / 6 }
