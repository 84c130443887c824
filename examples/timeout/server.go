package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/lwtask/lwtask"
)

// server is the echo server whose tasks wait for at most timeout at a time.
type server struct {
	rt      *lwtask.Runtime
	out     io.Writer
	timeout time.Duration
	chores  int // how often a wait timed out and other work was done
}

// listen opens the listening socket and announces its address.
func (s *server) listen(addr string) (*lwtask.Listener, error) {
	l, err := s.rt.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	host, port := splitAddr(l.Addr().String())
	fmt.Fprintf(s.out, "starting up on %s port %s\n", host, port)
	return l, nil
}

// listener accepts connections and gives each a task. Accept itself waits
// without a deadline, so the listener first waits for its socket to become
// readable with one: the seed's select with a timeout, one socket at a
// time.
func (s *server) listener(t *lwtask.Task, l *lwtask.Listener) {
	for {
		err := s.rt.FdQueues().WaitReadable(t, l.Fd(), time.Now().Add(s.timeout))
		if errors.Is(err, lwtask.ErrTimeout) {
			s.otherWork("listener")
			continue
		}
		if err != nil {
			return // closed
		}
		c, err := l.Accept(t)
		if err != nil {
			return
		}
		fmt.Fprintln(s.out, "new connection from", c.RemoteAddr())
		s.rt.Go(fmt.Sprint("echo ", c.RemoteAddr()), func(t *lwtask.Task) { s.echo(t, c) })
	}
}

// echo sends back what the client sends, and does other work whenever the
// client keeps quiet for the timeout. The deadline is set afresh before
// each read: it bounds one wait, not the whole connection.
func (s *server) echo(t *lwtask.Task, c *lwtask.Conn) {
	defer c.Close()
	peer := c.RemoteAddr().String()
	data := make([]byte, 1024)
	for {
		c.SetReadDeadline(time.Now().Add(s.timeout))
		n, err := c.Read(t, data)
		switch {
		case errors.Is(err, lwtask.ErrTimeout):
			s.otherWork(peer)
			continue
		case err == io.EOF:
			fmt.Fprintln(s.out, "closing", peer, "after reading no data")
			return
		case err != nil:
			fmt.Fprintln(s.out, "handling exceptional condition for", peer, err)
			return
		}
		fmt.Fprintf(s.out, "received %q from %s\n", data[:n], peer)
		fmt.Fprintf(s.out, "sending %q to %s\n", data[:n], peer)
		if err := send(t, c, data[:n]); err != nil {
			fmt.Fprintln(s.out, "handling exceptional condition for", peer, err)
			return
		}
	}
}

// otherWork is where the seed says "do some other work here". Here it
// only counts: a real server might expire sessions or flush a log.
func (s *server) otherWork(who string) {
	s.chores++
	fmt.Fprintln(s.out, " ", who, "timed out, do some other work here")
}

func (s *server) report() {
	fmt.Fprintf(s.out, "did other work %d times while waiting\n", s.chores)
}

// send writes data now: Conn gathers writes until Flush.
func send(t *lwtask.Task, c *lwtask.Conn, data []byte) error {
	if _, err := c.Write(t, data); err != nil {
		return err
	}
	return c.Flush(t)
}
