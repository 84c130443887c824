package main

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
