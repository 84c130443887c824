package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// endOfIds ends a helper's input, so no id can have its value.
const endOfIds = 0xFFFF

// serve is a helper's whole life: read the setup data, then answer ids
// until the end mark. It is an ordinary blocking program; it is the parent
// that must never block, since it has several helpers to keep busy.
func serve(in io.Reader, out io.Writer) error {
	r := bufio.NewReader(in)
	w := bufio.NewWriter(out)
	var start int
	setup, err := r.ReadString('\n')
	if err != nil {
		return fmt.Errorf("reading setup: %w", err)
	}
	if _, err := fmt.Sscanf(setup, "start %d\n", &start); err != nil {
		return fmt.Errorf("bad setup %q: %w", setup, err)
	}
	var buf [2]byte
	for {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return fmt.Errorf("reading ids: %w", err)
		}
		id := int(binary.BigEndian.Uint16(buf[:]))
		if id == endOfIds {
			return w.Flush()
		}
		if _, err := fmt.Fprintf(w, "%d %d\n", id, collatzSteps(start+id)); err != nil {
			return err
		}
	}
}

// collatzSteps counts the steps from n down to 1, halving the even numbers
// and taking the odd ones to 3n+1: cheap to compute, but hard to guess.
func collatzSteps(n int) int {
	steps := 0
	for ; n > 1; steps++ {
		if n%2 == 0 {
			n /= 2
		} else {
			n = 3*n + 1
		}
	}
	return steps
}
