package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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

	oracleTrace, blocked := oracleDine(3, essaySeats, false)
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
	// The same table with a butler: everyone leaves the table.
	{"deadlock_butler", []string{"-forks", "3", "-butler",
		"-seat", "Plato,2,0,2,0,1", "-seat", "Socrates,3,0,1,1,2", "-seat", "Euclid,3,2,1,2,0"}, 0, nil},
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
// forks (or for the butler). Each table is run without a butler and with
// one.
func TestRandomSeatings(t *testing.T) {
	r := rand.New(rand.NewPCG(2024, 1))
	deadlocks, butlerDeadlocks := 0, 0
	var args []string
	defer func() {
		if t.Failed() { // Fatal unwinds through here
			t.Logf("failing seating: %q", args)
		}
	}()
	for range 400 {
		nforks, seats, a := randomSeating(r)
		for _, butler := range []bool{false, true} {
			args = a
			if butler {
				args = append(slices.Clone(a), "-butler")
			}
			var out, errOut bytes.Buffer
			code := run(args, &out, &errOut)
			if nforks == 1 {
				if code != 2 || out.Len() != 0 || !strings.Contains(errOut.String(), "LEFT and RIGHT are both fork 0") {
					t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
				}
				continue
			}
			want, wantBlocked := oracleDine(nforks, seats, butler)
			wantCode := 0
			if wantBlocked != nil {
				wantCode = 3
				if butler {
					butlerDeadlocks++
				} else {
					deadlocks++
				}
			}
			if code != wantCode {
				t.Fatalf("exit %d, want %d; stderr %q", code, wantCode, errOut.String())
			}
			diffLines(t, lines(out.Bytes()), want)
			checkDine(t, table{forks: nforks, seats: seats, butler: butler}, want, wantBlocked, errOut.String())
		}
	}
	// A butler does not save every table: two pairs of philosophers on
	// two pairs of forks can deadlock with three of the four admitted.
	t.Logf("%d deadlocks, %d with a butler", deadlocks, butlerDeadlocks)
	if deadlocks < 10 {
		t.Fatalf("only %d of the random seatings deadlocked; the test needs more", deadlocks)
	}
}

// checkDine runs the seating through dine, which must fail with a
// *DeadlockError naming the philosophers the oracle left blocked, in the
// order they were seated, the same ones that stderr named.
func checkDine(t *testing.T, tbl table, want, wantBlocked []string, stderr string) {
	t.Helper()
	var out bytes.Buffer
	err := dine(&out, io.Discard, tbl)
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

// deadlockTable is the table of testdata/deadlock.golden: three
// philosophers at a round table of three forks, who deadlock.
var deadlockTable = []string{"-forks", "3",
	"-seat", "Plato,2,0,2,0,1", "-seat", "Socrates,3,0,1,1,2", "-seat", "Euclid,3,2,1,2,0"}

// TestButler shows Dijkstra's butler at work: the table that deadlocks
// without one (exit status 3, every philosopher stuck waiting for a fork)
// finishes with one (exit status 0), and every philosopher leaves it. Both
// traces are the oracle's.
func TestButler(t *testing.T) {
	seats := []seat{{"Plato", 2, 0, 2, 0, 1}, {"Socrates", 3, 0, 1, 1, 2}, {"Euclid", 3, 2, 1, 2, 0}}

	var out, errOut bytes.Buffer
	if code := run(deadlockTable, &out, &errOut); code != 3 {
		t.Fatalf("without a butler: exit %d, want 3 (deadlock); stderr %q", code, errOut.String())
	}
	want, blocked := oracleDine(3, seats, false)
	diffLines(t, lines(out.Bytes()), want)
	if len(blocked) != 3 {
		t.Fatalf("the oracle has %q blocked, want all three", blocked)
	}
	checkStderr(t, errOut.String(), []string{"deadlock: 3 task(s) blocked forever", "Plato#1 waiting for fork 1",
		"Socrates#2 waiting for fork 2", "Euclid#3 waiting for fork 0"})

	out.Reset()
	errOut.Reset()
	if code := run(append(slices.Clone(deadlockTable), "-butler"), &out, &errOut); code != 0 || errOut.Len() != 0 {
		t.Fatalf("with a butler: exit %d, want 0; stderr %q", code, errOut.String())
	}
	want, blocked = oracleDine(3, seats, true)
	if blocked != nil {
		t.Fatalf("with a butler the oracle has %q blocked", blocked)
	}
	trace := lines(out.Bytes())
	diffLines(t, trace, want)
	diffLines(t, trace, lines(golden(t, "deadlock_butler")))
	checkEveryoneLeaves(t, trace, seats)
	checkButlerKeepsOneOut(t, trace, len(seats))
}

// checkEveryoneLeaves checks that each philosopher ate as often as they
// live, and left the table last thing.
func checkEveryoneLeaves(t *testing.T, trace []string, seats []seat) {
	t.Helper()
	for _, s := range seats {
		var mine []string
		for _, line := range trace {
			if strings.HasPrefix(line, s.name+" ") {
				mine = append(mine, line)
			}
		}
		if len(mine) == 0 || mine[len(mine)-1] != s.name+" leaving the table" {
			t.Fatalf("%s did not leave the table: %q", s.name, mine)
		}
		meals := 0
		for _, line := range mine {
			if strings.HasPrefix(line, s.name+" releasing forks") {
				meals++
			}
		}
		if meals != s.lifetime {
			t.Fatalf("%s ate %d times, lives %d", s.name, meals, s.lifetime)
		}
	}
}

// checkButlerKeepsOneOut checks that no more than n-1 of the n
// philosophers were ever admitted by the butler at once (one, if n is 1).
func checkButlerKeepsOneOut(t *testing.T, trace []string, n int) {
	t.Helper()
	admitted := 0
	for i, line := range trace {
		switch {
		case strings.HasSuffix(line, " admitted by the butler"):
			admitted++
		case strings.HasSuffix(line, " thanking the butler"):
			admitted--
		}
		if admitted > max(n-1, 1) || admitted < 0 {
			t.Fatalf("line %d: %d admitted by the butler, of %d philosophers", i+1, admitted, n)
		}
	}
}

// TestButlerRoundTables: at round tables, where philosopher i sits between
// forks i and i+1 (mod n), the tables that deadlock without a butler all
// finish with one, and every philosopher leaves. Traces, with and without,
// are the oracle's.
func TestButlerRoundTables(t *testing.T) {
	r := rand.New(rand.NewPCG(1965, 7)) // the year of Dijkstra's philosophers
	deadlocks := 0
	for range 1000 {
		n := 2 + r.IntN(5)
		// Half the tables have everyone reach first for the same side,
		// the classic deadlock; the rest have each pick a side.
		sameSide := r.IntN(2) == 0
		args := []string{"-forks", fmt.Sprint(n)}
		var seats []seat
		for i, name := range philosopherNames[:n] {
			s := seat{name: name, lifetime: 1 + r.IntN(4), think: r.IntN(3), eat: r.IntN(3),
				leftFork: i, rightFork: (i + 1) % n}
			if !sameSide && r.IntN(2) == 0 {
				s.leftFork, s.rightFork = s.rightFork, s.leftFork
			}
			seats = append(seats, s)
			args = append(args, "-seat", fmt.Sprintf("%s,%d,%d,%d,%d,%d",
				s.name, s.lifetime, s.think, s.eat, s.leftFork, s.rightFork))
		}

		var out, errOut bytes.Buffer
		code := run(args, &out, &errOut)
		want, blocked := oracleDine(n, seats, false)
		diffLines(t, lines(out.Bytes()), want)
		if (blocked != nil) != (code == 3) || (blocked == nil) != (code == 0) {
			t.Fatalf("%q: exit %d, oracle blocked %q; stderr %q", args, code, blocked, errOut.String())
		}
		if code == 3 {
			deadlocks++
		}

		out.Reset()
		errOut.Reset()
		args = append(args, "-butler")
		if code := run(args, &out, &errOut); code != 0 || errOut.Len() != 0 {
			t.Fatalf("%q: exit %d, want 0; stderr %q", args, code, errOut.String())
		}
		want, blocked = oracleDine(n, seats, true)
		if blocked != nil {
			t.Fatalf("%q: the oracle has %q blocked", args, blocked)
		}
		trace := lines(out.Bytes())
		diffLines(t, trace, want)
		checkEveryoneLeaves(t, trace, seats)
		checkButlerKeepsOneOut(t, trace, n)
	}
	t.Logf("%d of the round tables deadlocked without a butler", deadlocks)
	if deadlocks < 20 {
		t.Fatalf("only %d of the round tables deadlocked without a butler; the test needs more", deadlocks)
	}
}
