package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/lwtask/lwtask/examples/internal/progtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// In-process runs start os.Executable() -helper: this test binary,
	// which then plays the helper.
	if len(os.Args) > 1 && os.Args[1] == "-helper" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	goleak.VerifyTestMain(m)
}

// Sizes that deadlock a parent that writes all its input before it reads:
// 65535 ids are 128 KiB of input and about 600 KiB of answers per helper,
// each far more than a pipe holds.
const (
	manyHelpers = 3
	manyIds     = 65535
)

// The program as go run runs it, helpers and all.
func TestProgram(t *testing.T) {
	cmd := exec.Command(progtest.Build(t), "-helpers", fmt.Sprint(manyHelpers), "-ids", fmt.Sprint(manyIds), "-v")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := string(out)
	for i := 1; i <= manyHelpers; i++ {
		if !strings.Contains(got, fmt.Sprintf("helper %d: %d answers, all right", i, manyIds)) {
			t.Errorf("no clean summary for helper %d in:\n%s", i, got)
		}
	}
	// The best known of the interesting lines: 27 takes 111 steps, far
	// more than any smaller number.
	if !strings.Contains(got, "helper 1: 27 takes 111 steps, the most so far\n") {
		t.Errorf("-v did not print 27's record in:\n%s", got)
	}
	if want := fmt.Sprintf("%d helpers answered %d ids, all right\n", manyHelpers, manyHelpers*manyIds); !strings.HasSuffix(got, want) {
		t.Errorf("output ends:\n%s\nwant:\n%s", lastLines(got, 2), want)
	}
}

// The parent's side in this process, checking each answer in detail.
func TestEveryAnswer(t *testing.T) {
	jobs, err := runHelpers(helperCommand, manyHelpers, manyIds, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if len(j.errs) > 0 || j.answers != manyIds || j.wrong != 0 {
			t.Errorf("%s: %d answers, %d wrong, errors %v", j.name, j.answers, j.wrong, j.errs)
		}
	}
}

func helperCommand() *exec.Cmd {
	self, err := os.Executable()
	if err != nil {
		panic(err)
	}
	cmd := exec.Command(self, "-helper")
	cmd.Stderr = os.Stderr
	return cmd
}

// Helpers that misbehave end their jobs with errors, never a hang: one
// that exits at once, and one that never reads and answers nonsense.
// Either way the input outgrows the pipe, so the task writing it may be
// parked on a full pipe when the helper goes away.
func TestMisbehavingHelpers(t *testing.T) {
	for _, name := range []string{"true", "yes"} {
		path, err := exec.LookPath(name)
		if err != nil {
			t.Skip(err)
		}
		jobs, err := runHelpers(func() *exec.Cmd { return exec.Command(path) }, 2, manyIds, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs {
			if len(j.errs) == 0 {
				t.Errorf("%s as %s: no error", name, j.name)
			}
		}
		var out bytes.Buffer
		if summarize(jobs, &out) {
			t.Errorf("%s: summary says all right:\n%s", name, out.String())
		}
	}
}

// The helper on its own, fed from memory.
func TestServe(t *testing.T) {
	in := []byte("start 20\n")
	for _, id := range []uint16{7, 0, 77, endOfIds} {
		in = binary.BigEndian.AppendUint16(in, id)
	}
	var out bytes.Buffer
	if err := serve(bytes.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	// 27 takes 111 steps, 20 takes 7 (20 10 5 16 8 4 2 1), 97 takes 118.
	if want := "7 111\n0 7\n77 118\n"; out.String() != want {
		t.Errorf("answers %q, want %q", out.String(), want)
	}
	for _, bad := range []string{"", "start\n", "start 1\n\x00"} {
		if err := serve(strings.NewReader(bad), &out); err == nil {
			t.Errorf("serve(%q): no error", bad)
		}
	}
}

func TestCollatzSteps(t *testing.T) {
	for n, want := range map[int]int{1: 0, 2: 1, 3: 7, 27: 111, 97: 118, 871: 178, 77031: 350} {
		if got := collatzSteps(n); got != want {
			t.Errorf("collatzSteps(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-ids", "65536"}, {"-helpers", "0"}, {"-nonsense"}, {"extra"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, nil, &stdout, &stderr); code != 2 {
			t.Errorf("%q: exit status %d, want 2", args, code)
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
