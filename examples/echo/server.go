package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/lwtask/lwtask"
)

// listener is the select loop's branch for a readable server socket:
// accept a connection, and give it a task of its own.
func listener(t *lwtask.Task, rt *lwtask.Runtime, l *lwtask.Listener, out io.Writer) {
	for {
		c, err := l.Accept(t)
		if errors.Is(err, lwtask.ErrClosed) {
			return
		}
		if err != nil {
			fmt.Fprintln(out, "accept:", err)
			return
		}
		fmt.Fprintln(out, "new connection from", c.RemoteAddr())
		rt.Go(fmt.Sprint("echo ", c.RemoteAddr()), func(t *lwtask.Task) { echo(t, c, out) })
	}
}

// echo serves one connection: the select loop's branches for a readable
// client socket and a writable one, as one task that reads what comes and
// sends it straight back. No output queue is needed: while the socket is
// full, the task waits in Flush with its data in hand.
func echo(t *lwtask.Task, c *lwtask.Conn, out io.Writer) {
	defer c.Close()
	peer := c.RemoteAddr()
	data := make([]byte, 1024)
	for {
		n, err := c.Read(t, data)
		if err == io.EOF {
			fmt.Fprintln(out, "closing", peer, "after reading no data")
			return
		}
		if err != nil {
			fmt.Fprintln(out, "handling exceptional condition for", peer, err)
			return
		}
		fmt.Fprintf(out, "received %q from %v\n", data[:n], peer)
		fmt.Fprintf(out, "sending %q to %v\n", data[:n], peer)
		if err := send(t, c, data[:n]); err != nil {
			fmt.Fprintln(out, "handling exceptional condition for", peer, err)
			return
		}
	}
}

// send writes data now: Conn gathers writes until Flush.
func send(t *lwtask.Task, c *lwtask.Conn, data []byte) error {
	if _, err := c.Write(t, data); err != nil {
		return err
	}
	return c.Flush(t)
}
