package main

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/lwtask/lwtask"
	"github.com/lwtask/lwtask/scheduler"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The golden traces in testdata were printed by the essay's own Python
// program, run with the no-barging Utensil that package utensil implements
// (python3 essay.py nobarge NFORKS NAME,LIFETIME,THINK,EAT,LEFT,RIGHT...).
// With the essay's trio the no-barging Utensil changes nothing: the trace is
// the essay's.

// essayFirstTen is the output the essay prints for its trio.
var essayFirstTen = []string{
	"Plato thinking",
	"Socrates thinking",
	"Euclid thinking",
	"Plato thinking",
	"Socrates thinking",
	"Euclid waiting for fork 2",
	"Euclid acquired fork 2",
	"Euclid waiting for fork 0",
	"Euclid acquired fork 0",
	"Euclid eating spam",
}

func golden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".golden"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func lines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// diffLines fails t at the first line where got and want differ.
func diffLines(t *testing.T, got, want []string) {
	t.Helper()
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Fatalf("line %d: got %q, want %q (%d lines, want %d)", i+1, g, w, len(got), len(want))
		}
	}
}

func TestEssayTrace(t *testing.T) {
	want := lines(golden(t, "essay"))
	if len(want) != 195 || !slices.Equal(want[:10], essayFirstTen) {
		t.Fatalf("essay.golden has %d lines, beginning %q", len(want), want[:min(10, len(want))])
	}
	var out, errOut bytes.Buffer
	if code := run(nil, &out, &errOut); code != 0 || errOut.Len() != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
	diffLines(t, lines(out.Bytes()), want)

	oracleTrace, blocked := oracleDine(3, essaySeats)
	if blocked != nil {
		t.Fatalf("oracle deadlocked: %v", blocked)
	}
	diffLines(t, oracleTrace, want)
}

var scenarios = []struct {
	name   string
	args   []string
	code   int
	stderr []string
}{
	{"essay", nil, 0, nil},
	{"essay", []string{"-seat", "Plato,7,2,3,0,1", "-seat", "Socrates,8,3,1,1,2", "-seat", "Euclid,5,1,4,2,0"}, 0, nil},
	{"deadlock", []string{"-forks", "3",
		"-seat", "Plato,2,0,2,0,1", "-seat", "Socrates,3,0,1,1,2", "-seat", "Euclid,3,2,1,2,0"}, 3,
		[]string{"Plato#1 waiting for fork 1", "Socrates#2 waiting for fork 2", "Euclid#3 waiting for fork 0"}},
	{"kant_hume", []string{"-forks", "2", "-seat", "Kant,3,1,2,0,1", "-seat", "Hume,2,2,1,1,0"}, 0, nil},
	// -forks after the seats that use its forks.
	{"zeros", []string{"-seat", "Idle,0,5,5,0,1", "-seat", "Quick,2,0,0,0,1",
		"-seat", "Slow,1,3,2,1,0", "-seat", "Sloth,3,0,1,1,0", "-forks", "2"}, 0, nil},
	{"five", []string{"-forks", "5", "-seat", "Plato,4,1,2,0,1", "-seat", "Socrates,3,2,1,1,2",
		"-seat", "Euclid,5,0,3,2,3", "-seat", "Hume,2,3,2,3,4", "-seat", "Kant,4,1,1,4,0"}, 0, nil},
}

func TestGolden(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(sc.args, &out, &errOut)
			if code != sc.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, sc.code, errOut.String())
			}
			diffLines(t, lines(out.Bytes()), lines(golden(t, sc.name)))
			checkStderr(t, errOut.String(), sc.stderr)
		})
	}
}

func checkStderr(t *testing.T, stderr string, want []string) {
	t.Helper()
	if len(want) == 0 && stderr != "" {
		t.Fatalf("stderr %q, want none", stderr)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Fatalf("stderr %q does not mention %q", stderr, w)
		}
	}
}

var philosopherNames = []string{"Plato", "Socrates", "Euclid", "Kant", "Hume", "Locke"}

// randomSeating returns a table of 1 to 6 forks and 1 to 6 philosophers
// with small counts, zero included, and the flags that describe it. With
// one fork, every seat has both hands on fork 0.
func randomSeating(r *rand.Rand) (nforks int, seats []seat, args []string) {
	nforks = 1 + r.IntN(6)
	args = []string{"-forks", fmt.Sprint(nforks)}
	names := slices.Clone(philosopherNames)
	r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	for _, name := range names[:1+r.IntN(6)] {
		s := seat{name: name, lifetime: r.IntN(4), think: r.IntN(3), eat: r.IntN(3)}
		if nforks > 1 {
			s.leftFork = r.IntN(nforks)
			s.rightFork = (s.leftFork + 1 + r.IntN(nforks-1)) % nforks
		}
		seats = append(seats, s)
		args = append(args, "-seat", fmt.Sprintf("%s,%d,%d,%d,%d,%d",
			s.name, s.lifetime, s.think, s.eat, s.leftFork, s.rightFork))
	}
	return nforks, seats, args
}

// TestRandomSeatings runs random tables through the program, both through
// its flags and through dine, and compares each with the oracle: the same
// trace, and on deadlock the same philosophers left waiting for the same
// forks.
func TestRandomSeatings(t *testing.T) {
	r := rand.New(rand.NewPCG(2024, 1))
	deadlocks := 0
	var args []string
	defer func() {
		if t.Failed() { // Fatal unwinds through here
			t.Logf("failing seating: %q", args)
		}
	}()
	for range 400 {
		nforks, seats, a := randomSeating(r)
		args = a
		var out, errOut bytes.Buffer
		code := run(args, &out, &errOut)
		if nforks == 1 {
			if code != 2 || out.Len() != 0 || !strings.Contains(errOut.String(), "LEFT and RIGHT are both fork 0") {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
			}
			continue
		}
		want, wantBlocked := oracleDine(nforks, seats)
		wantCode := 0
		if wantBlocked != nil {
			wantCode = 3
			deadlocks++
		}
		if code != wantCode {
			t.Fatalf("exit %d, want %d; stderr %q", code, wantCode, errOut.String())
		}
		diffLines(t, lines(out.Bytes()), want)
		checkDine(t, nforks, seats, want, wantBlocked, errOut.String())
	}
	t.Logf("%d deadlocks", deadlocks)
	if deadlocks < 10 {
		t.Fatalf("only %d of the random seatings deadlocked; the test needs more", deadlocks)
	}
}

// checkDine runs the seating through dine, which must fail with a
// *DeadlockError naming the philosophers the oracle left blocked, in the
// order they were seated, the same ones that stderr named.
func checkDine(t *testing.T, nforks int, seats []seat, want, wantBlocked []string, stderr string) {
	t.Helper()
	var out bytes.Buffer
	err := dine(&out, nforks, seats)
	diffLines(t, lines(out.Bytes()), want)
	if wantBlocked == nil {
		if err != nil {
			t.Fatalf("dine: %v", err)
		}
		return
	}
	var dl *lwtask.DeadlockError
	if !errors.As(err, &dl) {
		t.Fatalf("dine: %v, want a deadlock", err)
	}
	var got []string
	for _, info := range dl.Blocked {
		got = append(got, info.Name+" waiting for "+info.WaitingFor)
		if !strings.Contains(stderr, fmt.Sprintf("%s#%d waiting for %s", info.Name, info.ID, info.WaitingFor)) {
			t.Fatalf("stderr %q does not name %v", stderr, info)
		}
	}
	if !slices.Equal(got, wantBlocked) {
		t.Fatalf("blocked %q, oracle says %q", got, wantBlocked)
	}
	var _ *scheduler.DeadlockError = dl // the alias is the scheduler's type
}
