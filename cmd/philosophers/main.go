// Command philosophers runs the essay's dining philosophers on lwtask.
//
// With no flags it seats the essay's trio at three forks and prints the same
// trace as the essay's program. Seats of your own replace the trio:
//
//	philosophers -forks 2 -seat Kant,3,1,2,0,1 -seat Hume,2,2,1,1,0
//
// Each -seat is NAME,LIFETIME,THINK,EAT,LEFT,RIGHT, scheduled in the order
// given. Exit status: 0 when everyone has left the table, 2 for bad flags,
// 3 on deadlock (stderr names who waits for which fork).
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

	"github.com/lwtask/lwtask"
	"github.com/lwtask/lwtask/scheduler"
	"github.com/lwtask/lwtask/task"
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
	forks, seats, err := parseFlags(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		fmt.Fprintln(stderr, "philosophers:", err)
		return 2
	}
	out := bufio.NewWriter(stdout)
	err = dine(out, forks, seats)
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

// dine seats the philosophers at nforks forks and runs them to the end.
func dine(out io.Writer, nforks int, seats []seat) error {
	forks := make([]*utensil.Utensil, nforks)
	for i := range forks {
		forks[i] = utensil.New("fork " + strconv.Itoa(i))
	}
	rt, err := lwtask.New()
	if err != nil {
		return err
	}
	defer rt.Close()
	for _, s := range seats {
		rt.Go(s.name, func(t *task.Task) {
			philosopher(t, out, s, forks[s.leftFork], forks[s.rightFork])
		})
	}
	return rt.Run()
}

// philosopher is the essay's life cycle of a philosopher, line for line.
func philosopher(t *task.Task, out io.Writer, s seat, left, right *utensil.Utensil) {
	for range s.lifetime {
		for range s.think {
			fmt.Fprintln(out, s.name, "thinking")
			t.Yield()
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
	}
	fmt.Fprintln(out, s.name, "leaving the table")
}

// parseFlags reads -forks and -seat. Fork ids are checked once all flags
// are read, so the order of -forks and -seat does not matter.
func parseFlags(args []string, stderr io.Writer) (int, []seat, error) {
	fs := flag.NewFlagSet("philosophers", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // run reports the error once, in its own words
	forks := fs.Int("forks", 3, "number of forks, with ids 0..N-1")
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
			fmt.Fprintln(stderr, "usage: philosophers [-forks N] [-seat NAME,LIFETIME,THINK,EAT,LEFT,RIGHT]...")
			fs.PrintDefaults()
		}
		return 0, nil, err
	}
	if fs.NArg() > 0 {
		return 0, nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *forks < 1 || *forks > maxForks {
		return 0, nil, fmt.Errorf("-forks %d: want 1 to %d", *forks, maxForks)
	}
	if seats == nil {
		seats = essaySeats
	}
	for _, s := range seats {
		for _, f := range []int{s.leftFork, s.rightFork} {
			if f >= *forks {
				return 0, nil, fmt.Errorf("-seat %s: fork %d out of range: forks are 0 to %d", s.name, f, *forks-1)
			}
		}
	}
	return *forks, seats, nil
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
