// Command stdin is the essay's first test of waiting for external events:
// one task that parks until standard input is readable, then reads a line
// and prints it the way the essay's Python does, until end of input.
//
//	go run ./examples/stdin
//
// Type a few lines and end with Ctrl-D, or pipe them in:
//
//	printf 'asdf\nqwer\n' | go run ./examples/stdin
//
// Either way it prints the essay's sample session:
//
//	Waiting for input
//	Input is ready
//	Input was: 'asdf\n'
//	Waiting for input
//	Input is ready
//	Input was: 'qwer\n'
//	Waiting for input
//	Input is ready
//	Input was: ''
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/lwtask/lwtask"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "stdin:", err)
		os.Exit(1)
	}
}

// run is the essay's "schedule(loop()); run2()".
func run(out io.Writer) error {
	rt, err := lwtask.New()
	if err != nil {
		return err
	}
	defer rt.Close()
	stdin, err := rt.Stdin()
	if err != nil {
		return err
	}
	// Close puts standard input back in blocking mode, which the shell
	// that started us shares.
	defer stdin.Close()
	var loopErr error
	rt.Go("loop", func(t *lwtask.Task) { loopErr = loop(t, rt, stdin, out) })
	if err := rt.Run(); err != nil {
		return err
	}
	return loopErr
}

// loop is the essay's loop: wait for input, read a line, show it, and stop
// at end of input, when the line read is empty.
func loop(t *lwtask.Task, rt *lwtask.Runtime, stdin *lwtask.File, out io.Writer) error {
	// Reading through stdin.For(t) parks t, not the whole program, should
	// a line arrive in pieces.
	lines := bufio.NewReader(stdin.For(t))
	for {
		fmt.Fprintln(out, "Waiting for input")
		if err := waitForInput(t, rt, stdin, lines); err != nil {
			return err
		}
		fmt.Fprintln(out, "Input is ready")
		line, err := lines.ReadString('\n')
		if err != nil && err != io.EOF {
			return err
		}
		fmt.Fprintln(out, "Input was:", repr(line))
		if line == "" {
			return nil
		}
	}
}

// waitForInput is the essay's "yield from block_for_reading(stdin)": it
// parks t until standard input is readable.
//
// Input already in the reader's buffer is ready too. The descriptor would
// not become readable again for it, so waiting would hang with a line in
// hand. (The essay's Python, reading through the buffered sys.stdin, has
// the same trap when several lines arrive at once.)
func waitForInput(t *lwtask.Task, rt *lwtask.Runtime, stdin *lwtask.File, lines *bufio.Reader) error {
	if lines.Buffered() > 0 {
		return nil
	}
	return rt.FdQueues().WaitReadable(t, stdin.Fd(), time.Time{})
}
