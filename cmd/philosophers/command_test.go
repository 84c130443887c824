package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCommand runs the built program as a subprocess: exit statuses,
// which stream gets what, and the messages for malformed flags.
func TestCommand(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "philosophers")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Run("essay", func(t *testing.T) {
		t.Parallel()
		stdout, stderr := runCommand(t, bin, 0)
		if n := len(lines([]byte(stdout))); n != 195 || stderr != "" {
			t.Fatalf("%d lines, stderr %q", n, stderr)
		}
		diffLines(t, lines([]byte(stdout)), lines(golden(t, "essay")))
	})
	t.Run("deadlock", func(t *testing.T) {
		t.Parallel()
		stdout, stderr := runCommand(t, bin, 3, "-forks", "3",
			"-seat", "Plato,2,0,2,0,1", "-seat", "Socrates,3,0,1,1,2", "-seat", "Euclid,3,2,1,2,0")
		diffLines(t, lines([]byte(stdout)), lines(golden(t, "deadlock")))
		want := "philosophers: deadlock: 3 task(s) blocked forever:\n" +
			"\tPlato#1 waiting for fork 1\n" +
			"\tSocrates#2 waiting for fork 2\n" +
			"\tEuclid#3 waiting for fork 0\n"
		if stderr != want {
			t.Fatalf("stderr:\n%s\nwant:\n%s", stderr, want)
		}
	})
	t.Run("butler", func(t *testing.T) {
		t.Parallel()
		// The table that deadlocks above, with a butler: everyone leaves.
		stdout, stderr := runCommand(t, bin, 0, "-forks", "3", "-butler",
			"-seat", "Plato,2,0,2,0,1", "-seat", "Socrates,3,0,1,1,2", "-seat", "Euclid,3,2,1,2,0")
		if stderr != "" {
			t.Fatalf("stderr %q", stderr)
		}
		diffLines(t, lines([]byte(stdout)), lines(golden(t, "deadlock_butler")))
		for _, name := range []string{"Plato", "Socrates", "Euclid"} {
			if strings.Count(stdout, name+" leaving the table\n") != 1 {
				t.Fatalf("%s did not leave the table:\n%s", name, stdout)
			}
		}
	})
	t.Run("help", func(t *testing.T) {
		t.Parallel()
		stdout, stderr := runCommand(t, bin, 0, "-h")
		if stdout != "" || !strings.Contains(stderr, "usage: philosophers") || !strings.Contains(stderr, "-seat") ||
			!strings.Contains(stderr, "-butler") {
			t.Fatalf("stdout %q, stderr %q", stdout, stderr)
		}
	})
	t.Run("trace", func(t *testing.T) {
		t.Parallel()
		// trace_test.go has the details, through run: here, the exit
		// statuses of the program itself, and no panic.
		dir := t.TempDir()
		path := filepath.Join(dir, "dinner.json")
		stdout, stderr := runCommand(t, bin, 0, "-trace", path)
		if b, err := os.ReadFile(path); err != nil || !json.Valid(b) || stderr != "" {
			t.Fatalf("%s: %v, valid JSON %v; stderr %q", path, err, json.Valid(b), stderr)
		}
		diffLines(t, lines([]byte(stdout)), lines(golden(t, "essay")))

		path = filepath.Join(dir, "dinner.txt")
		stdout, stderr = runCommand(t, bin, 2, "-trace", path)
		if want := "philosophers: -trace " + path + ": want a .html or .json file\n"; stdout != "" || stderr != want {
			t.Fatalf("stdout %q, stderr %q, want %q", stdout, stderr, want)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Fatalf("%s: %v, want no file", path, err)
		}

		path = filepath.Join(dir, "missing", "dinner.html")
		for _, args := range [][]string{nil, deadlockTable} {
			code := 1
			if args != nil {
				code = 3
			}
			_, stderr = runCommand(t, bin, code, append(slices.Clone(args), "-trace", path)...)
			if !strings.HasPrefix(stderr, "philosophers: -trace: open "+path+": no such file or directory\n") {
				t.Fatalf("%q: stderr %q", args, stderr)
			}
		}
	})
	t.Run("sigusr1", func(t *testing.T) {
		t.Parallel()
		// Plato, alone at the table, dines for a long time: long enough
		// to be sent SIGUSR1, which prints the task table on stderr.
		cmd := exec.Command(bin, "-forks", "2", "-seat", "Plato,1000000000,1,1,0,1")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		drained, drainedErr := make(chan struct{}), make(chan struct{})
		dumped := make(chan string, 1)
		go func() {
			defer close(drained)
			// The dinner prints only once Run has begun, by when the
			// program watches for SIGUSR1: before, it would kill it.
			b := make([]byte, 1)
			if _, err := io.ReadFull(stdout, b); err == nil {
				cmd.Process.Signal(syscall.SIGUSR1)
			}
			io.Copy(io.Discard, stdout)
		}()
		go func() {
			defer close(drainedErr)
			var got strings.Builder
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				got.WriteString(sc.Text() + "\n")
				if strings.Contains(sc.Text(), "Plato") {
					break
				}
			}
			dumped <- got.String()
			io.Copy(io.Discard, stderr)
		}()
		var got string
		select {
		case got = <-dumped:
		case <-time.After(time.Minute): // not a timing check: only keeps a failure from hanging
		}
		cmd.Process.Kill()
		<-drained
		<-drainedErr
		cmd.Wait()
		if !strings.Contains(got, "NAME") || !strings.Contains(got, "Plato") {
			t.Fatalf("after SIGUSR1, stderr %q, want the task table", got)
		}
	})
	for _, tc := range badFlags {
		t.Run("bad/"+strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			stdout, stderr := runCommand(t, bin, 2, tc.args...)
			if stdout != "" {
				t.Fatalf("stdout %q, want none", stdout)
			}
			if !strings.HasPrefix(stderr, "philosophers: ") || !strings.Contains(stderr, tc.want) ||
				strings.Count(stderr, "\n") != 1 {
				t.Fatalf("stderr %q, want one line mentioning %q", stderr, tc.want)
			}
		})
	}
}

var badFlags = []struct {
	args []string
	want string
}{
	{[]string{"-seat", "Plato,x,2,3,0,1"}, `LIFETIME "x" is not a whole number`},
	{[]string{"-seat", "Plato,7,2.5,3,0,1"}, `THINK "2.5" is not a whole number`},
	{[]string{"-seat", "Plato,7,2,,0,1"}, `EAT "" is not a whole number`},
	{[]string{"-seat", "Plato,99999999999999999999,2,3,0,1"}, "LIFETIME 99999999999999999999 is too large"},
	{[]string{"-seat", "Plato,7,1000000001,3,0,1"}, "THINK 1000000001 is too large"},
	{[]string{"-seat", "Plato,7,2,3,0,99999999999999999999"}, "RIGHT 99999999999999999999 is too large"},
	{[]string{"-forks", "99999999999999999999"}, `invalid value "99999999999999999999" for flag -forks`},
	{[]string{"-forks", "2000000"}, "-forks 2000000: want 1 to 1000000"},
	{[]string{"-seat", "Plato,7,-2,3,0,1"}, "THINK -2 is negative"},
	{[]string{"-seat", "Plato,-1,2,3,0,1"}, "LIFETIME -1 is negative"},
	{[]string{"-seat", "Plato,7,2,3,-1,1"}, "LEFT -1 is negative"},
	{[]string{"-forks", "0"}, "-forks 0: want 1 to"},
	{[]string{"-forks", "-3"}, "-forks -3: want 1 to"},
	{[]string{"-forks", "three"}, `invalid value "three" for flag -forks`},
	{[]string{"-seat", "Plato,7,2,3,0,5"}, "-seat Plato: fork 5 out of range: forks are 0 to 2"},
	{[]string{"-forks", "2", "-seat", "Plato,7,2,3,0,2"}, "-seat Plato: fork 2 out of range: forks are 0 to 1"},
	{[]string{"-seat", "Plato,7,2,3,2,0", "-forks", "2"}, "-seat Plato: fork 2 out of range: forks are 0 to 1"},
	{[]string{"-seat", "Plato,7,2,3,1,1"}, "LEFT and RIGHT are both fork 1"},
	{[]string{"-seat", "Plato,7,2,3"}, "has 4 fields, want NAME,LIFETIME,THINK,EAT,LEFT,RIGHT"},
	{[]string{"-seat", "Plato,7,2,3,0,1,2"}, "has 7 fields"},
	{[]string{"-seat", " ,7,2,3,0,1"}, "empty name"},
	{[]string{"-seat"}, "flag needs an argument: -seat"},
	{[]string{"-spoons", "3"}, "flag provided but not defined: -spoons"},
	{[]string{"extra"}, `unexpected argument "extra"`},
	{[]string{"-butler=maybe"}, `invalid boolean value "maybe" for -butler`},
	{[]string{"-butler", "-seat", "Plato,7,2,3,0,5"}, "-seat Plato: fork 5 out of range"},
	{[]string{"-forks", "3", "extra", "-seat", "Plato,7,2,3,0,1"}, `unexpected argument "extra"`},
}

// runCommand runs bin with args and checks its exit status.
func runCommand(t *testing.T, bin string, wantCode int, args ...string) (stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	if code != wantCode {
		t.Fatalf("%q: exit %d, want %d\nstdout %q\nstderr %q", args, code, wantCode, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

// TestBadFlagsInProcess checks the same flags through run, which the
// random seatings also use.
func TestBadFlagsInProcess(t *testing.T) {
	for _, tc := range badFlags {
		var out, errOut bytes.Buffer
		if code := run(tc.args, &out, &errOut); code != 2 || out.Len() != 0 || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", tc.args, code, out.String(), errOut.String())
		}
	}
}
