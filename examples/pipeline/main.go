// Command pipeline runs a producer, a pool of workers and a consumer as
// lwtask tasks, joined by bounded channels, under a deadline:
//
//	producer --jobs--> worker 1..N --results--> consumer
//
// The producer sends the numbers 1 to -items; each worker takes numbers,
// squares them, taking -work to do each, and sends on the results; the
// consumer prints each result and adds them up. The channels (task.Chan)
// hold -buffer values each, so a fast stage waits for a slow one.
//
//	go run ./examples/pipeline
//	go run ./examples/pipeline -items 1000 -timeout 100ms
//
// The stages run in a task.Group, inside Task.FailAfter(-timeout). If the
// work is done first, the channels are closed in turn from the producer's
// end, and each stage ends when its input does. If the deadline passes
// first, each stage is cancelled where it waits (a send to a full channel,
// a receive from an empty one, a worker's work), stops, and closes the
// channel it sends on. Cancellation reaches a task only when it waits: a
// stage that finds its input already closed and drained ends as at the end
// of its input. Either way each stage prints what it did and how it ended,
// the program says whether the work was done or cut short, and every task
// has ended when Run returns. The exit status is 0 in both cases, and 2
// for bad flags.
//
// Flags: -items (20, at most 1000000), -workers (3, at most 10000), -work
// (10ms), -buffer (2, at most 10000), -timeout (1s).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/lwtask/lwtask"
	"github.com/lwtask/lwtask/task"
)

// Upper bounds for the flags. The sum of the squares of 1 to maxItems,
// about 3.3e17, fits in an int (the most that fits is 3024616); -buffer
// sizes both channels, which are made at once, and -workers is how many
// tasks are started.
const (
	maxItems   = 1000000
	maxWorkers = 10000
	maxBuffer  = 10000
)

// config is what the flags say.
type config struct {
	items, workers, buffer int
	work, timeout          time.Duration
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return 2
	}
	if _, err := runPipeline(cfg, stdout); err != nil {
		fmt.Fprintln(stderr, "pipeline:", err)
		return 1
	}
	return 0
}

// parseFlags reads the flags, and reports what is wrong with them to
// stderr.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	flags := flag.NewFlagSet("pipeline", flag.ContinueOnError)
	flags.SetOutput(stderr)
	var cfg config
	flags.IntVar(&cfg.items, "items", 20, "how many numbers the producer sends")
	flags.IntVar(&cfg.workers, "workers", 3, "how many workers square them")
	flags.DurationVar(&cfg.work, "work", 10*time.Millisecond, "how long a worker takes to square a number")
	flags.IntVar(&cfg.buffer, "buffer", 2, "how many values each channel holds (0: none, a sender waits for a receiver)")
	flags.DurationVar(&cfg.timeout, "timeout", time.Second, "how long the pipeline may run")
	if err := flags.Parse(args); err != nil {
		return cfg, err
	}
	var bad string
	switch {
	case flags.NArg() > 0:
		bad = fmt.Sprintf("unexpected argument %q", flags.Arg(0))
	case cfg.items < 0:
		bad = "-items must not be negative"
	case cfg.items > maxItems:
		bad = fmt.Sprintf("-items must be at most %d", maxItems)
	case cfg.workers < 1:
		bad = "-workers must be at least 1"
	case cfg.workers > maxWorkers:
		bad = fmt.Sprintf("-workers must be at most %d", maxWorkers)
	case cfg.work < 0:
		bad = "-work must not be negative"
	case cfg.buffer < 0:
		bad = "-buffer must not be negative"
	case cfg.buffer > maxBuffer:
		bad = fmt.Sprintf("-buffer must be at most %d", maxBuffer)
	case cfg.timeout <= 0:
		bad = "-timeout must be positive"
	}
	if bad != "" {
		fmt.Fprintln(stderr, "pipeline:", bad)
		return cfg, errors.New(bad)
	}
	return cfg, nil
}

// outcome is how a run ended, for the tests.
type outcome struct {
	done, cutShort bool // all items done; the deadline cut the work short
	consumed       int  // results the consumer received
	closed         bool // both channels were closed
}

// runPipeline runs the pipeline on a runtime of its own, to the end.
func runPipeline(cfg config, out io.Writer) (outcome, error) {
	rt, err := lwtask.New()
	if err != nil {
		return outcome{}, err
	}
	defer rt.Close()
	var o outcome
	var pipeErr error
	rt.Go("main", func(t *lwtask.Task) { o, pipeErr = pipeline(t, cfg, out) })
	if err := rt.Run(); err != nil {
		return o, err
	}
	return o, pipeErr
}

// result is a worker's answer.
type result struct {
	n, square int
	worker    int // who squared it
}

// pipeline runs the three stages in a group, under the deadline, and says
// how it went.
func pipeline(t *task.Task, cfg config, out io.Writer) (outcome, error) {
	jobs := task.NewChan[int]("jobs", cfg.buffer)
	results := task.NewChan[result]("results", cfg.buffer)
	var o outcome
	var sum int
	err := t.FailAfter(cfg.timeout, func() error {
		g := task.NewGroup(t)
		g.Go("producer", func(t *task.Task) error { return produce(t, cfg.items, jobs, out) })
		g.Go("workers", func(t *task.Task) error { return workers(t, cfg, jobs, results, out) })
		g.Go("consumer", func(t *task.Task) error { return consume(t, results, out, &o.consumed, &sum) })
		return g.Wait(t) // every stage has ended when it returns
	})
	o.closed = jobs.Closed() && results.Closed()
	switch {
	case errors.Is(err, task.ErrTooSlow):
		o.cutShort = true
		fmt.Fprintf(out, "cut short by the %v timeout: %d of %d items done\n", cfg.timeout, o.consumed, cfg.items)
	case err != nil:
		return o, err
	default:
		o.done = true
		fmt.Fprintf(out, "all %d items done in time; the sum of their squares is %d\n", cfg.items, sum)
	}
	return o, nil
}

// produce sends the numbers 1 to items, and closes jobs when it stops:
// once all are sent, or when it is cancelled.
func produce(t *task.Task, items int, jobs *task.Chan[int], out io.Writer) error {
	defer jobs.Close()
	sent := 0
	var err error
	for n := 1; n <= items && err == nil; n++ {
		if err = jobs.Send(t, n); err == nil {
			sent++
		}
	}
	report(out, "producer", fmt.Sprintf("sent %d of %d numbers", sent, items), "all sent", err)
	return err
}

// workers runs the pool of workers in a group of its own, and closes
// results once they have all stopped.
func workers(t *task.Task, cfg config, jobs *task.Chan[int], results *task.Chan[result], out io.Writer) error {
	defer results.Close()
	g := task.NewGroup(t)
	for id := 1; id <= cfg.workers; id++ {
		g.Go(fmt.Sprint("worker ", id), func(t *task.Task) error {
			return worker(t, id, cfg.work, jobs, results, out)
		})
	}
	return g.Wait(t)
}

// worker squares numbers until jobs is closed and drained, or it is
// cancelled.
func worker(t *task.Task, id int, work time.Duration, jobs *task.Chan[int], results *task.Chan[result], out io.Writer) error {
	squared := 0
	var err error
	for n := range jobs.All(t, &err) {
		if work > 0 {
			if err = t.Sleep(work); err != nil { // the work, cut short
				break
			}
		}
		if err = results.Send(t, result{n, n * n, id}); err != nil {
			break
		}
		squared++
	}
	report(out, fmt.Sprint("worker ", id), fmt.Sprintf("squared %d numbers", squared), "no more jobs", err)
	return err
}

// consume prints the results until results is closed and drained, or it
// is cancelled.
func consume(t *task.Task, results *task.Chan[result], out io.Writer, received, sum *int) error {
	var err error
	for r := range results.All(t, &err) {
		fmt.Fprintf(out, "%d squared is %d (worker %d)\n", r.n, r.square, r.worker)
		*received++
		*sum += r.square
	}
	report(out, "consumer", fmt.Sprintf("received %d results", *received), "no more results", err)
	return err
}

// report says what a stage did, and how it ended: at the end of its work
// (end), or stopped by err.
func report(out io.Writer, stage, what, end string, err error) {
	if err != nil {
		end = fmt.Sprint("stopped: ", err)
	}
	fmt.Fprintf(out, "%s: %s; %s\n", stage, what, end)
}
