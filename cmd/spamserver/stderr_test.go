package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The server's standard error in hostile hands: a pipe whose reader has
// gone, and one that nobody reads.

// startPiped starts a server, with more flags args, that logs connections
// to a pipe, and returns it with the pipe's read end, from which the
// address has been read and nothing more. It is stopped when the test ends.
func startPiped(t *testing.T, args ...string) (*testServer, *os.File, *bufio.Reader) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := serverCommand(context.Background(), t, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	cmd.Stderr = w
	err = cmd.Start()
	w.Close() // the server's copy is the only writer left
	if err != nil {
		r.Close()
		t.Fatal(err)
	}
	s := &testServer{cmd: cmd, stderr: newOutput(), done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		if code := s.stop(t, syscall.SIGTERM); code != 0 && !t.Failed() {
			t.Errorf("server: %v", cmd.ProcessState)
		}
		r.Close()
	})
	r.SetReadDeadline(time.Now().Add(patience))
	log := bufio.NewReader(r)
	line, err := log.ReadString('\n')
	if err != nil {
		t.Fatalf("server did not start listening: %q, %v", line, err)
	}
	r.SetReadDeadline(time.Time{})
	addr, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "Listening on ")
	if !ok {
		t.Fatalf("first line %q, want the address", line)
	}
	s.addr = addr
	return s, r, log
}

// TestLogReaderGone is spamserver 2>&1 | head -1: once the first line is
// read, the reader goes away, and every later line fails with EPIPE. Go
// kills a program for that unless it ignores SIGPIPE.
func TestLogReaderGone(t *testing.T) {
	s, r, _ := startPiped(t)
	r.Close()
	for range 5 {
		c := dial(t, s.addr) // a line to log
		if err := c.ask("SPAM 2\n", 2); err != nil {
			t.Fatal(err)
		}
	}
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("after SIGTERM: %v", s.cmd.ProcessState)
	}
}

// logFlood is how many connections the tests below make to fill the log:
// about 200 KiB of lines, well beyond what the pipe (64 KiB on Linux) and
// the server's queue hold together.
const logFlood = 4000

// flood connects and hangs up logFlood times.
func flood(t *testing.T, addr string) {
	t.Helper()
	for range logFlood {
		c, err := net.DialTimeout("tcp", addr, patience)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
}

// TestLogNotRead: nobody reads standard error, which fills up. The server
// must go on serving, and exit when told to, although what it still has to
// log cannot go out.
func TestLogNotRead(t *testing.T) {
	s, _, _ := startPiped(t)
	flood(t, s.addr)
	c := dial(t, s.addr)
	if err := c.ask("SPAM 3\n", 3); err != nil {
		t.Fatal(err)
	}
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("after SIGTERM: %v", s.cmd.ProcessState)
	}
}

var droppedLine = regexp.MustCompile(`^spamserver: (\d+) log lines dropped$`)

// TestLogDropsCounted: the lines dropped while nobody read standard error
// are counted, and once it is read again the count comes out, with the
// next line that gets through. In the end every connection is in the log,
// or in a count.
func TestLogDropsCounted(t *testing.T) {
	s, _, stderr := startPiped(t)
	flood(t, s.addr)
	connections := logFlood
	// A probe first, while nobody reads: its reply means every connection
	// of the flood has been accepted and its line logged or dropped, so
	// reading does not start before standard error has filled up.
	probe := dial(t, s.addr)
	connections++
	if err := probe.ask("SPAM 1\n", 1); err != nil {
		t.Fatal(err)
	}
	probe.conn.Close()
	log := newOutput()
	copied := make(chan struct{})
	go func() {
		io.Copy(log, stderr) // until the server exits
		close(copied)
	}()
	// Each probe has a reply, so it has been accepted, after all the
	// connections before it.
	waitUntil(t, "the server reports dropped lines", func() bool {
		c, err := newClient(s.addr)
		if err != nil {
			t.Fatal(err)
		}
		connections++
		err = c.ask("SPAM 1\n", 1)
		c.conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		return strings.Contains(log.String(), "log lines dropped")
	})
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("after SIGTERM: %v", s.cmd.ProcessState)
	}
	<-copied

	logged, dropped := 0, 0
	for _, line := range strings.Split(strings.TrimSuffix(log.String(), "\n"), "\n") {
		if strings.HasPrefix(line, "Listener: Accepted connection from ") {
			logged++
		} else if m := droppedLine.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			dropped += n
		} else {
			t.Errorf("unexpected log line %q", line)
		}
	}
	t.Logf("%d connections: %d logged, %d dropped", connections, logged, dropped)
	if dropped == 0 {
		t.Error("no line dropped")
	}
	if logged+dropped != connections {
		t.Errorf("%d connections, %d logged and %d dropped", connections, logged, dropped)
	}
}
