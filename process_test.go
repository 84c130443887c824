package lwtask_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/lwtask/lwtask"
)

// The test binary doubles as the child process of these tests: run with
// LWTASK_TEST_CHILD set, it plays that part and exits before any test.
func init() {
	mode := os.Getenv("LWTASK_TEST_CHILD")
	if mode == "" {
		return
	}
	switch mode {
	case "cat":
		io.Copy(os.Stdout, os.Stdin)
	case "exit3":
		io.Copy(io.Discard, os.Stdin)
		fmt.Println("bye")
		os.Exit(3)
	case "count-lines":
		n := 0
		for sc := bufio.NewScanner(os.Stdin); sc.Scan(); n++ {
		}
		fmt.Println(n)
	default:
		fmt.Fprintf(os.Stderr, "unknown LWTASK_TEST_CHILD %q\n", mode)
		os.Exit(2)
	}
	os.Exit(0)
}

// child returns a command that runs this test binary as the child mode.
func child(t *testing.T, mode string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	// Under the race detector a child would sleep a second as it exits.
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	cmd.Env = append(os.Environ(), "LWTASK_TEST_CHILD="+mode, "GORACE="+gorace)
	cmd.Stderr = os.Stderr
	return cmd
}

// start starts cmd; its pipes are closed when the test ends, if the test
// has not closed them.
func start(t *testing.T, rt *lwtask.Runtime, cmd *exec.Cmd) *lwtask.Process {
	t.Helper()
	p, err := rt.StartCommand(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stdin.Close(); p.Stdout.Close() })
	return p
}

// TestCommandCat streams a megabyte of lines through a child that copies
// them back, writing and reading at once: neither side deadlocks on a
// full pipe, and every line comes back.
func TestCommandCat(t *testing.T) {
	const lines = 20_000
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		p := start(t, rt, child(t, "cat"))
		rt.Go("writer", func(tk *lwtask.Task) {
			for i := range lines {
				fmt.Fprintf(p.Stdin.For(tk), "line %d %s\n", i, strings.Repeat("spam", 10))
			}
			if err := p.Stdin.Flush(tk); err != nil {
				t.Error(err)
			}
			p.Stdin.Close()
		})
		got := 0
		var waitErr error
		rt.Go("reader", func(tk *lwtask.Task) {
			for ; ; got++ {
				line, err := p.Stdout.ReadLine(tk)
				if err == io.EOF {
					break
				}
				if want := fmt.Sprintf("line %d %s", got, strings.Repeat("spam", 10)); err != nil || string(line) != want {
					t.Errorf("line %d: %q, %v", got, line, err)
					p.Cmd.Process.Kill()
					break
				}
			}
			waitErr = p.Wait(tk)
		})
		runAll(t, rt)
		if got != lines || waitErr != nil {
			t.Fatalf("%d lines back, want %d; Wait: %v", got, lines, waitErr)
		}
	})
}

// TestCommandExitStatus checks that Wait returns the exit status of a
// child that fails, to every task that waits, before and after the exit.
func TestCommandExitStatus(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		p := start(t, rt, child(t, "exit3"))
		p.Stdin.Close()
		var out string
		var errs []error
		rt.Go("reader", func(tk *lwtask.Task) {
			line, err := p.Stdout.ReadLine(tk)
			out = string(line)
			if err != nil {
				t.Error(err)
			}
			errs = append(errs, p.Wait(tk))
		})
		rt.Go("second waiter", func(tk *lwtask.Task) {
			errs = append(errs, p.Wait(tk))
		})
		runAll(t, rt)
		rt.Go("late waiter", func(tk *lwtask.Task) { errs = append(errs, p.Wait(tk)) })
		runAll(t, rt)
		if out != "bye" || len(errs) != 3 {
			t.Fatalf("child said %q; %d waits returned", out, len(errs))
		}
		for _, err := range errs {
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 3 {
				t.Errorf("Wait: %v, want exit status 3", err)
			}
		}
	})
}

// TestCommandWaitAlone has the only task wait for a child that is still
// running, with nothing else going on: Run must wait for the exit, not
// report a deadlock.
func TestCommandWaitAlone(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		p := start(t, rt, child(t, "count-lines"))
		var waitErr error
		rt.Go("parent", func(tk *lwtask.Task) {
			p.Stdin.WriteString(tk, "one\ntwo\n")
			p.Stdin.Flush(tk)
			p.Stdin.Close()
			waitErr = p.Wait(tk) // before reading: the child's output fits the pipe
		})
		runAll(t, rt)
		if waitErr != nil {
			t.Fatal(waitErr)
		}
		rt.Go("reader", func(tk *lwtask.Task) {
			if line, err := p.Stdout.ReadLine(tk); string(line) != "2" || err != nil {
				t.Errorf("child counted %q, %v", line, err)
			}
		})
		runAll(t, rt)
	})
}

// TestStartCommandErrors checks commands that cannot start: nothing is
// left open.
func TestStartCommandErrors(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		if _, err := rt.StartCommand(exec.Command("/nonexistent/lwtask-test")); err == nil {
			t.Error("StartCommand of a missing program succeeded")
		}
		cmd := child(t, "cat")
		cmd.Stdin = strings.NewReader("")
		if _, err := rt.StartCommand(cmd); err == nil {
			t.Error("StartCommand with Stdin set succeeded")
		}
	})
}
