// Command philosophers runs the essay's dining philosophers on lwtask.
//
// With no flags it seats the essay's trio at three forks and prints the same
// trace as the essay's program. Seats of your own replace the trio:
//
//	philosophers -forks 2 -seat Kant,3,1,2,0,1 -seat Hume,2,2,1,1,0
//
// Each -seat is NAME,LIFETIME,THINK,EAT,LEFT,RIGHT, scheduled in the order
// given.
//
// -butler adds Dijkstra's waiter: a butler who lets at most N-1 of the N
// philosophers seated (one, if only one is) reach for forks at a time. A
// philosopher waits for the butler after thinking, and thanks him after
// putting both forks down (a task.Semaphore with N-1 permits, acquired and
// released). At a round table, where each philosopher shares a fork with
// each neighbour, that breaks every deadlock: for all to wait for each
// other, all N would have to hold a fork. Tables of other shapes can still
// deadlock with a butler, when fewer than N philosophers can wait for each
// other in a ring. Without -butler the trace is the essay's, line for line.
//
// -trace FILE writes the dinner as a timeline once it is over: a lane per
// philosopher, showing when each ate, thought, and waited for which fork,
// who had it and who handed it over. FILE.html is a page that opens in any
// browser; FILE.json is a Chrome trace, for Perfetto (ui.perfetto.dev) or
// chrome://tracing.
//
// kill -USR1 prints the philosophers' states to standard error during a
// long dinner, without stopping it.
//
// Exit status: 0 when everyone has left the table, 2 for bad flags, 3 on
// deadlock (stderr names who waits for which fork, or for the butler), 1
// for any other error, such as a -trace file that cannot be written.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/lwtask/lwtask"
	"github.com/lwtask/lwtask/internal/sigdump"
	"github.com/lwtask/lwtask/scheduler"
	"github.com/lwtask/lwtask/task"
	"github.com/lwtask/lwtask/timeline"
	"github.com/lwtask/lwtask/utensil"
)

// seat is one philosopher's place at the table.
type seat struct {
	name                 string
	lifetime, think, eat int
	leftFork, rightFork  int
}

var essaySeats = []seat{
	{"Plato", 7, 2, 3, 0, 1},
	{"Socrates", 8, 3, 1, 1, 2},
	{"Euclid", 5, 1, 4, 2, 0},
}

// Limits keep a typo from asking for a table the size of memory.
const (
	maxForks = 1_000_000
	maxCount = 1_000_000_000
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	tbl, err := parseFlags(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		fmt.Fprintln(stderr, "philosophers:", err)
		return 2
	}
	out := bufio.NewWriter(stdout)
	err = dine(out, stderr, tbl)
	out.Flush()
	var deadlock *scheduler.DeadlockError
	switch {
	case errors.As(err, &deadlock):
		fmt.Fprintln(stderr, "philosophers:", err)
		return 3
	case err != nil:
		fmt.Fprintln(stderr, "philosophers:", err)
		return 1
	}
	return 0
}

// table is what the flags say: the forks, the seats, and whether a butler
// waits at table.
type table struct {
	forks  int
	seats  []seat
	butler bool
	trace  string // -trace: where the timeline goes
}

// traceEvents is how many of the last events -trace keeps: all of the
// essay's dinner, and of any other a lifetime of thousands of meals.
const traceEvents = 1 << 20

// dine seats the philosophers at the table and runs them to the end.
func dine(out, stderr io.Writer, tbl table) error {
	forks := make([]*utensil.Utensil, tbl.forks)
	for i := range forks {
		forks[i] = utensil.New("fork " + strconv.Itoa(i))
	}
	var butler *task.Semaphore
	if tbl.butler {
		butler = task.NewSemaphore("butler", max(len(tbl.seats)-1, 1))
	}
	var opts []lwtask.Option
	var rec *timeline.Recorder
	if tbl.trace != "" {
		rec = timeline.NewRecorder(traceEvents)
		opts = append(opts, lwtask.WithRecorder(rec))
	}
	rt, err := lwtask.New(opts...)
	if err != nil {
		return err
	}
	defer rt.Close()
	for _, s := range tbl.seats {
		rt.Go(s.name, func(t *task.Task) {
			philosopher(t, out, s, forks[s.leftFork], forks[s.rightFork], butler)
		})
	}
	stop := sigdump.On(func() {
		if err := rt.Dump(stderr); err != nil {
			fmt.Fprintln(stderr, "philosophers: task dump:", err)
		}
	}, syscall.SIGUSR1)
	// Watched until the trace is written: a SIGUSR1 then, unwatched, would
	// end the program with half a file.
	defer stop()
	err = rt.Run()
	if rec != nil {
		// A deadlock's trace is the one most wanted: if it cannot be
		// written, say so as well as reporting the deadlock.
		if werr := timeline.WriteFile(tbl.trace, rec.Events(), "The dining philosophers"); werr != nil {
			werr = fmt.Errorf("-trace: %w", werr)
			if err == nil {
				err = werr
			} else {
				fmt.Fprintln(stderr, "philosophers:", werr)
			}
		}
	}
	return err
}

// philosopher is the essay's life cycle of a philosopher, line for line,
// with the butler's permission asked for and given back if there is one.
func philosopher(t *task.Task, out io.Writer, s seat, left, right *utensil.Utensil, butler *task.Semaphore) {
	for range s.lifetime {
		for range s.think {
			fmt.Fprintln(out, s.name, "thinking")
			t.Yield()
		}
		if butler != nil {
			fmt.Fprintln(out, s.name, "waiting for the butler")
			butler.Acquire(t)
			fmt.Fprintln(out, s.name, "admitted by the butler")
		}
		fmt.Fprintln(out, s.name, "waiting for fork", s.leftFork)
		left.Acquire(t)
		fmt.Fprintln(out, s.name, "acquired fork", s.leftFork)
		fmt.Fprintln(out, s.name, "waiting for fork", s.rightFork)
		right.Acquire(t)
		fmt.Fprintln(out, s.name, "acquired fork", s.rightFork)
		for range s.eat {
			// They're Go philosophers, but they eat spam all the same.
			fmt.Fprintln(out, s.name, "eating spam")
			t.Yield()
		}
		fmt.Fprintln(out, s.name, "releasing forks", s.leftFork, "and", s.rightFork)
		left.Release(t)
		right.Release(t)
		if butler != nil {
			fmt.Fprintln(out, s.name, "thanking the butler")
			butler.Release(t)
		}
	}
	fmt.Fprintln(out, s.name, "leaving the table")
}

// parseFlags reads -forks, -seat and -butler. Fork ids are checked once
// all flags are read, so the order of -forks and -seat does not matter.
func parseFlags(args []string, stderr io.Writer) (table, error) {
	fs := flag.NewFlagSet("philosophers", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // run reports the error once, in its own words
	forks := fs.Int("forks", 3, "number of forks, with ids 0..N-1")
	butler := fs.Bool("butler", false, "a butler lets all the philosophers but one reach for forks at a time (Dijkstra's waiter)")
	trace := fs.String("trace", "", "write the dinner as a timeline to `FILE`: FILE.html, a web page, or FILE.json, a Chrome trace for Perfetto")
	var seats []seat
	fs.Func("seat", "a philosopher: NAME,LIFETIME,THINK,EAT,LEFT,RIGHT (repeatable; replaces the essay's trio)",
		func(v string) error {
			s, err := parseSeat(v)
			seats = append(seats, s)
			return err
		})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fmt.Fprintln(stderr, "usage: philosophers [-forks N] [-seat NAME,LIFETIME,THINK,EAT,LEFT,RIGHT]... [-butler] [-trace FILE]")
			fs.PrintDefaults()
		}
		return table{}, err
	}
	if fs.NArg() > 0 {
		return table{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *forks < 1 || *forks > maxForks {
		return table{}, fmt.Errorf("-forks %d: want 1 to %d", *forks, maxForks)
	}
	if seats == nil {
		seats = essaySeats
	}
	for _, s := range seats {
		for _, f := range []int{s.leftFork, s.rightFork} {
			if f >= *forks {
				return table{}, fmt.Errorf("-seat %s: fork %d out of range: forks are 0 to %d", s.name, f, *forks-1)
			}
		}
	}
	if *trace != "" && timeline.Format(*trace) == "" {
		return table{}, fmt.Errorf("-trace %s: want a .html or .json file", *trace)
	}
	return table{forks: *forks, seats: seats, butler: *butler, trace: *trace}, nil
}

// parseSeat parses NAME,LIFETIME,THINK,EAT,LEFT,RIGHT.
func parseSeat(v string) (seat, error) {
	fields := strings.Split(v, ",")
	if len(fields) != 6 {
		return seat{}, fmt.Errorf("%q has %d fields, want NAME,LIFETIME,THINK,EAT,LEFT,RIGHT", v, len(fields))
	}
	s := seat{name: strings.TrimSpace(fields[0])}
	if s.name == "" {
		return seat{}, fmt.Errorf("%q: empty name", v)
	}
	nums := []*int{&s.lifetime, &s.think, &s.eat, &s.leftFork, &s.rightFork}
	names := []string{"LIFETIME", "THINK", "EAT", "LEFT", "RIGHT"}
	for i, p := range nums {
		n, err := strconv.Atoi(strings.TrimSpace(fields[i+1]))
		switch {
		case errors.Is(err, strconv.ErrRange):
			return seat{}, fmt.Errorf("%q: %s %s is too large (at most %d)", v, names[i], fields[i+1], maxCount)
		case err != nil:
			return seat{}, fmt.Errorf("%q: %s %q is not a whole number", v, names[i], fields[i+1])
		case n < 0:
			return seat{}, fmt.Errorf("%q: %s %d is negative", v, names[i], n)
		case n > maxCount:
			return seat{}, fmt.Errorf("%q: %s %d is too large (at most %d)", v, names[i], n, maxCount)
		}
		*p = n
	}
	if s.leftFork == s.rightFork {
		return seat{}, fmt.Errorf("%q: LEFT and RIGHT are both fork %d", v, s.leftFork)
	}
	return s, nil
}
