// Command subprocess is "Select and Python Generators": a parent that
// keeps several helper processes busy at once, writing each one's input as
// fast as the helper takes it while reading its answers line by line.
//
//	go run ./examples/subprocess [-helpers 4] [-ids 50000] [-v]
//
// The parent runs its own program again with -helper for each helper, so
// there is nothing else to build. A helper reads setup data (a line "start
// N"), then two-byte big-endian ids ended by 0xFFFF, and answers each id
// with a line: the id, and how many Collatz steps N+id takes to reach 1.
// The parent checks every answer and prints a summary; -v prints the
// interesting lines too, each helper's longest run so far.
//
// Input and output are each far larger than a pipe holds (64 KiB), so
// writing all the input before reading would deadlock: the helper stops
// reading once its output pipe is full, and then the parent's write never
// ends. The seed turns its two loops into generators and a select loop to
// avoid that; here each loop is a task, written as the seed wished it could
// be, and a write to a full pipe parks the writing task while the reading
// task drains the other pipe.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("subprocess", flag.ContinueOnError)
	flags.SetOutput(stderr)
	helper := flags.Bool("helper", false, "be a helper: read setup and ids on standard input, answer on standard output")
	helpers := flags.Int("helpers", 4, "how many helper processes to run")
	ids := flags.Int("ids", 50000, "how many ids to send each helper, at most 65535")
	verbose := flags.Bool("v", false, "print the interesting lines")
	if err := flags.Parse(args); err != nil || flags.NArg() > 0 {
		return 2
	}
	if *helper {
		if err := serve(stdin, stdout); err != nil {
			fmt.Fprintln(stderr, "subprocess -helper:", err)
			return 1
		}
		return 0
	}
	if *helpers < 1 || *ids < 0 || *ids > endOfIds {
		fmt.Fprintf(stderr, "subprocess: need at least one helper and 0 to %d ids\n", endOfIds)
		return 2
	}
	var interesting io.Writer
	if *verbose {
		interesting = stdout
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "subprocess:", err)
		return 1
	}
	newHelper := func() *exec.Cmd {
		cmd := exec.Command(self, "-helper")
		cmd.Stderr = stderr
		return cmd
	}
	jobs, err := runHelpers(newHelper, *helpers, *ids, interesting)
	if err != nil {
		fmt.Fprintln(stderr, "subprocess:", err)
		return 1
	}
	if !summarize(jobs, stdout) {
		return 1
	}
	return 0
}
