package main

import (
	"fmt"
	"io"
	"time"

	"github.com/lwtask/lwtask"
)

// messages are what the slow client sends, one per pause.
var messages = []string{
	"Part one of the message.",
	"Part two of the message.",
}

// slowClient is the seed's slow client: it pauses after connecting and
// after each message, to stand for latency or other delay, and only then
// reads the echoes, 16 bytes at a time.
func slowClient(t *lwtask.Task, rt *lwtask.Runtime, addr string, pause time.Duration, out io.Writer) error {
	host, port := splitAddr(addr)
	fmt.Fprintf(out, "connecting to %s port %s\n", host, port)
	c, err := rt.Dial(t, "tcp", addr)
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(out, "closing socket")
		c.Close()
	}()
	// t.Sleep, not time.Sleep: only this task pauses, not the scheduler.
	t.Sleep(pause)
	expected := 0
	for _, message := range messages {
		fmt.Fprintf(out, "sending %q\n", message)
		if err := send(t, c, []byte(message)); err != nil {
			return err
		}
		expected += len(message)
		t.Sleep(pause)
	}
	data := make([]byte, 16)
	for received := 0; received < expected; {
		n, err := c.Read(t, data)
		if err != nil {
			return err
		}
		received += n
		fmt.Fprintf(out, "received %q\n", data[:n])
	}
	return nil
}
