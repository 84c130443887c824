package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// traceScenarios are the dinners run with -trace: the essay's, one that
// deadlocks and the same with a butler. Each has a golden trace.
var traceScenarios = []struct {
	name string
	args []string
	code int
}{
	{"essay", nil, 0},
	{"deadlock", deadlockTable, 3},
	{"deadlock_butler", append(slices.Clone(deadlockTable), "-butler"), 0},
}

// dinner is what one run of the program printed.
type dinner struct {
	code           int
	stdout, stderr string
}

func runDinner(args []string) dinner {
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return dinner{code, out.String(), errOut.String()}
}

// runTraced runs the scenario with and without -trace path and checks that
// -trace changes nothing the program prints, nor its exit status, and
// that the trace is the golden one. It returns the seating, for the
// names and forks the file should show, and the stdout.
func runTraced(t *testing.T, args []string, code int, golden []byte, path string) (table, string) {
	t.Helper()
	plain := runDinner(args)
	traced := runDinner(append(slices.Clone(args), "-trace", path))
	if traced != plain {
		t.Fatalf("with -trace: exit %d, stdout %d bytes, stderr %q\nwithout: exit %d, stdout %d bytes, stderr %q",
			traced.code, len(traced.stdout), traced.stderr, plain.code, len(plain.stdout), plain.stderr)
	}
	if traced.code != code {
		t.Fatalf("exit %d, want %d; stderr %q", traced.code, code, traced.stderr)
	}
	diffLines(t, lines([]byte(traced.stdout)), lines(golden))
	tbl, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return tbl, traced.stdout
}

// label is how the trace names a task: "name #ID", IDs in seating order.
func label(tbl table, name string) string {
	i := slices.IndexFunc(tbl.seats, func(s seat) bool { return s.name == name })
	if i < 0 {
		return ""
	}
	return name + " #" + strconv.Itoa(i+1)
}

// A holdKey is a resource and the "name #ID" of a task that held it. A
// resource held by several tasks at once, the butler's permits, is drawn
// as rows "butler", "butler (2)", ...: the key has the name without the
// row number.
type holdKey struct{ resource, holder string }

var rowNumber = regexp.MustCompile(` \(\d+\)$`)

// checkHolds checks the resource rows of a trace against the dinner's
// stdout: one row for each fork (and the butler, if there is one); a hold
// for each time a philosopher printed that they acquired a fork (or were
// admitted by the butler), and no other; and no philosopher holding a fork
// they do not sit at. After a deadlock too: as Run ends the blocked tasks,
// each one's forks pass to the next in line, which ends next, and a
// recording leaves out those hand-overs, which no philosopher made.
func checkHolds(t *testing.T, tbl table, stdout string, rows []string, holds map[holdKey]int) {
	t.Helper()
	wantRows := []string{}
	if tbl.butler {
		wantRows = append(wantRows, "butler")
	}
	for i := range tbl.forks {
		wantRows = append(wantRows, "fork "+strconv.Itoa(i))
	}
	var gotRows []string
	for _, r := range rows {
		if r := rowNumber.ReplaceAllString(r, ""); !slices.Contains(gotRows, r) {
			gotRows = append(gotRows, r)
		}
	}
	if !slices.Equal(gotRows, wantRows) {
		t.Fatalf("resource rows %q, want %q", rows, wantRows)
	}

	want := map[holdKey]int{}
	for _, line := range lines([]byte(stdout)) {
		name, what, _ := strings.Cut(line, " ")
		switch {
		case strings.HasPrefix(what, "acquired fork "):
			want[holdKey{strings.TrimPrefix(what, "acquired "), label(tbl, name)}]++
		case what == "admitted by the butler":
			want[holdKey{"butler", label(tbl, name)}]++
		}
	}
	if len(want) == 0 {
		t.Fatal("no fork acquired in the dinner")
	}
	for k, n := range want {
		if holds[k] != n {
			t.Errorf("%s held %s %d times in the trace, acquired it %d times", k.holder, k.resource, holds[k], n)
		}
	}
	for k, n := range holds {
		i := slices.IndexFunc(tbl.seats, func(s seat) bool { return label(tbl, s.name) == k.holder })
		if i < 0 {
			t.Errorf("%s held by %q, who is not at the table", k.resource, k.holder)
			continue
		}
		s := tbl.seats[i]
		if k.resource != "butler" && k.resource != "fork "+strconv.Itoa(s.leftFork) &&
			k.resource != "fork "+strconv.Itoa(s.rightFork) {
			t.Errorf("%s held %s %d times, sitting at forks %d and %d", k.holder, k.resource, n, s.leftFork, s.rightFork)
		}
		if want[k] == 0 {
			t.Errorf("%s held %s %d times, never acquired it", k.holder, k.resource, n)
		}
	}
}

// chromeTrace is what the tests read of a Chrome trace.
type chromeTrace struct {
	TraceEvents []struct {
		Name string         `json:"name"`
		Cat  string         `json:"cat"`
		Ph   string         `json:"ph"`
		Pid  int            `json:"pid"`
		Tid  uint64         `json:"tid"`
		Args map[string]any `json:"args"`
	} `json:"traceEvents"`
}

// TestTraceJSON: -trace FILE.json writes a Chrome trace of the dinner,
// with a thread for each philosopher and, under "resources held", a row
// for each fork showing who held it, and changes nothing the program
// prints.
func TestTraceJSON(t *testing.T) {
	for _, sc := range traceScenarios {
		t.Run(sc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "dinner.json")
			tbl, stdout := runTraced(t, sc.args, sc.code, golden(t, sc.name), path)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(b) {
				t.Fatalf("%s is not JSON:\n%s", path, b)
			}
			var tr chromeTrace
			if err := json.Unmarshal(b, &tr); err != nil {
				t.Fatal(err)
			}
			if len(tr.TraceEvents) == 0 {
				t.Fatalf("no traceEvents in %s", b)
			}

			processes := map[int]string{}
			threads := map[int]map[uint64]string{}
			for _, e := range tr.TraceEvents {
				if e.Ph != "M" {
					continue
				}
				name, _ := e.Args["name"].(string)
				switch e.Name {
				case "process_name":
					processes[e.Pid] = name
				case "thread_name":
					if threads[e.Pid] == nil {
						threads[e.Pid] = map[uint64]string{}
					}
					threads[e.Pid][e.Tid] = name
				}
			}
			for i, s := range tbl.seats {
				if got, want := threads[1][uint64(i+1)], s.name+" #"+strconv.Itoa(i+1); got != want {
					t.Errorf("thread %d is %q, want %q", i+1, got, want)
				}
			}
			var resourcePid int
			for pid, name := range processes {
				if name == "resources held" {
					resourcePid = pid
				}
			}
			if resourcePid == 0 {
				t.Fatalf("no process \"resources held\": processes %q", processes)
			}
			var rows []string
			for tid := uint64(1); threads[resourcePid][tid] != ""; tid++ {
				rows = append(rows, threads[resourcePid][tid])
			}
			if len(rows) != len(threads[resourcePid]) {
				t.Fatalf("resource threads %q are not numbered 1 to %d", threads[resourcePid], len(threads[resourcePid]))
			}

			holds := map[holdKey]int{}
			for _, e := range tr.TraceEvents {
				if e.Pid == resourcePid && e.Ph == "X" {
					row := threads[resourcePid][e.Tid]
					if e.Cat != "hold" || e.Args["resource"] != row {
						t.Fatalf("hold %+v on row %q", e, row)
					}
					holds[holdKey{rowNumber.ReplaceAllString(row, ""), e.Name}]++
				}
			}
			checkHolds(t, tbl, stdout, rows, holds)
		})
	}
}

var dataBlock = regexp.MustCompile(`(?s)<script type="application/json" id="timeline-data">(.*?)</script>`)

// TestTraceHTML: -trace FILE.html (or .htm, in any case) writes a page
// whose data has a lane for each philosopher and a row for each fork, and
// changes nothing the program prints.
func TestTraceHTML(t *testing.T) {
	type scenario struct {
		name string
		args []string
		code int
		file string
	}
	var scs []scenario
	for _, sc := range traceScenarios {
		scs = append(scs, scenario{sc.name, sc.args, sc.code, "dinner.html"})
	}
	scs = append(scs, scenario{"essay", nil, 0, "dinner.htm"}, scenario{"essay", nil, 0, "DINNER.HTML"})
	for _, sc := range scs {
		t.Run(sc.name+"/"+sc.file, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), sc.file)
			tbl, stdout := runTraced(t, sc.args, sc.code, golden(t, sc.name), path)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			page := string(b)
			for _, want := range []string{"<!DOCTYPE html", `id="timeline-data"`, "<title>The dining philosophers</title>"} {
				if !strings.Contains(page, want) {
					t.Fatalf("the page has no %q", want)
				}
			}
			m := dataBlock.FindStringSubmatch(page)
			if m == nil {
				t.Fatal("no timeline-data script in the page")
			}
			var data struct {
				Lanes []struct {
					ID    uint64 `json:"id"`
					Label string `json:"label"`
				} `json:"lanes"`
				Resources []struct {
					Name  string  `json:"name"`
					Holds []int64 `json:"holds"`
				} `json:"resources"`
			}
			if err := json.Unmarshal([]byte(m[1]), &data); err != nil {
				t.Fatalf("timeline-data: %v", err)
			}
			labels := map[uint64]string{}
			var got, want []string
			for _, l := range data.Lanes {
				got = append(got, l.Label)
				labels[l.ID] = l.Label
			}
			for i, s := range tbl.seats {
				want = append(want, s.name+" #"+strconv.Itoa(i+1))
			}
			if !slices.Equal(got, want) {
				t.Fatalf("lanes %q, want %q", got, want)
			}
			var rows []string
			holds := map[holdKey]int{}
			for _, r := range data.Resources {
				rows = append(rows, r.Name)
				if len(r.Holds)%3 != 0 {
					t.Fatalf("%s: %d numbers of holds, want 3 a hold", r.Name, len(r.Holds))
				}
				for i := 0; i < len(r.Holds); i += 3 {
					holds[holdKey{rowNumber.ReplaceAllString(r.Name, ""), labels[uint64(r.Holds[i+2])]}]++
				}
			}
			checkHolds(t, tbl, stdout, rows, holds)
		})
	}
}

// TestTraceBadExtension: a -trace file that is neither .html, .htm nor
// .json is a bad flag: exit status 2 before the dinner, an error that
// names the file and what is wanted, and no file written.
func TestTraceBadExtension(t *testing.T) {
	for _, file := range []string{"dinner.txt", "dinner", "dinner.json.gz", "dinner.html~"} {
		t.Run(file, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, file)
			d := runDinner([]string{"-trace", path})
			want := "philosophers: -trace " + path + ": want a .html or .json file\n"
			if d.code != 2 || d.stdout != "" || d.stderr != want {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2, no stdout, stderr %q", d.code, d.stdout, d.stderr, want)
			}
			if ext := filepath.Ext(file); !strings.Contains(d.stderr, ext) {
				t.Fatalf("stderr %q does not name the extension %q", d.stderr, ext)
			}
			if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
				t.Fatalf("%s holds %v (%v), want nothing", dir, entries, err)
			}
		})
	}
}

// TestTraceUnwritable: a -trace file that cannot be created, in a
// directory that does not exist or being a directory, is an error once
// the dinner is over: exit status 1 with the error, after the whole
// dinner on stdout. After a deadlock the status is still 3, and stderr
// has both the trace's error and the deadlock's report.
func TestTraceUnwritable(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "table.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path   string
		reason string
	}{
		{filepath.Join(dir, "missing", "dinner.json"), "no such file or directory"},
		{filepath.Join(dir, "missing", "dinner.html"), "no such file or directory"},
		{filepath.Join(dir, "table.json"), "is a directory"},
	} {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			wantErr := "philosophers: -trace: open " + tc.path + ": " + tc.reason + "\n"

			d := runDinner([]string{"-trace", tc.path})
			if d.code != 1 || d.stderr != wantErr {
				t.Fatalf("exit %d, stderr %q; want exit 1, stderr %q", d.code, d.stderr, wantErr)
			}
			diffLines(t, lines([]byte(d.stdout)), lines(golden(t, "essay")))

			d = runDinner(append(slices.Clone(deadlockTable), "-trace", tc.path))
			if d.code != 3 || !strings.HasPrefix(d.stderr, wantErr) ||
				!strings.Contains(d.stderr, "philosophers: deadlock: 3 task(s) blocked forever:\n") {
				t.Fatalf("deadlock: exit %d, stderr %q; want exit 3, stderr %q and the deadlock", d.code, d.stderr, wantErr)
			}
			diffLines(t, lines([]byte(d.stdout)), lines(golden(t, "deadlock")))
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Fatalf("the missing directory: %v, want it still missing", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "table.json")); err != nil || !fi.IsDir() {
		t.Fatalf("table.json: %v, want the directory left as it was", err)
	}
}
