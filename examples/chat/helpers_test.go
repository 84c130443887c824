package main

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lwtask/lwtask/fdqueue/poller"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// patience bounds every wait for the server, against hangs only: a
// healthy server answers in microseconds.
const patience = 30 * time.Second

// syncBuffer is a log or a program's output, written by one goroutine and
// watched by the test's.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed at the next write
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{})} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	close(b.changed)
	b.changed = make(chan struct{})
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits until the text written so far satisfies ok, and returns
// it; it fails t after patience, or once done is closed without it.
func (b *syncBuffer) waitFor(t *testing.T, done <-chan struct{}, what string, ok func(text string) bool) string {
	t.Helper()
	timeout := time.NewTimer(patience)
	defer timeout.Stop()
	for {
		b.mu.Lock()
		text, changed := b.buf.String(), b.changed
		b.mu.Unlock()
		if ok(text) {
			return text
		}
		select {
		case <-changed:
		case <-done:
			if text := b.String(); ok(text) {
				return text
			}
			t.Fatalf("ended without %s:\n%s", what, b.String())
		case <-timeout.C:
			t.Fatalf("no %s after %v:\n%s", what, patience, b.String())
		}
	}
}

// waitLine waits for a line equal to line.
func (b *syncBuffer) waitLine(t *testing.T, done <-chan struct{}, line string) {
	t.Helper()
	b.waitFor(t, done, "line "+line, func(text string) bool {
		return strings.HasPrefix(text, line+"\n") || strings.Contains(text, "\n"+line+"\n")
	})
}

// testServer is the chat server running in the test's process, on a
// goroutine of its own, as serve runs it for the command.
type testServer struct {
	addr string
	log  *syncBuffer
	done chan struct{} // closed when serve has returned
}

// startServer starts a server with an outbox of outbox lines, on the
// poller backend (the default if ""). It is stopped when the test ends,
// and serve must then return nil.
func startServer(t *testing.T, backend string, outbox int) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &testServer{log: newSyncBuffer(), done: make(chan struct{})}
	var err error
	go func() {
		defer close(s.done)
		err = serve(ctx, config{addr: "127.0.0.1:0", outbox: outbox, poller: backend}, s.log)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(patience):
			t.Fatalf("the server did not stop:\n%s", s.log)
		}
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	const prefix = "chat: listening on "
	text := s.log.waitFor(t, s.done, "address", func(text string) bool {
		return strings.HasPrefix(text, prefix) && strings.Contains(text, "\n")
	})
	s.addr = strings.TrimPrefix(text[:strings.Index(text, "\n")], prefix)
	return s
}

// forEachPoller runs f for each poller backend this system has.
func forEachPoller(t *testing.T, f func(t *testing.T, backend string)) {
	for _, backend := range poller.Names() {
		t.Run(backend, func(t *testing.T) { f(t, backend) })
	}
}

// client is a member, or a would-be member, on a real socket. A goroutine
// reads what the server sends, line by line, unless the client was made
// not to read.
type client struct {
	t     *testing.T
	name  string
	conn  *net.TCPConn
	lines chan string   // lines read, without "\r\n"; closed at the end
	stop  chan struct{} // closed when the test ends
}

// dial connects a client, which reads.
func (s *testServer) dial(t *testing.T) *client {
	t.Helper()
	c := s.dialQuiet(t)
	go c.readLoop(bufio.NewReader(c.conn))
	return c
}

// dialQuiet connects a client which reads nothing unless told to.
func (s *testServer) dialQuiet(t *testing.T) *client {
	t.Helper()
	conn, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, conn: conn.(*net.TCPConn), lines: make(chan string, 1<<14), stop: make(chan struct{})}
	t.Cleanup(func() {
		close(c.stop)
		c.conn.Close()
	})
	return c
}

func (c *client) readLoop(r *bufio.Reader) {
	defer close(c.lines)
	for {
		line, err := r.ReadString('\n')
		if line != "" {
			select {
			case c.lines <- strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"):
			case <-c.stop:
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// join connects a member called name, and checks the greeting.
func (s *testServer) join(t *testing.T, name, greeting string) *client {
	t.Helper()
	c := s.dial(t)
	c.name = name
	c.expect(askName)
	c.say(name)
	c.expect(greeting)
	return c
}

const askName = "Welcome to the lwtask chat. What is your name?"

// say sends line and its line ending, as a terminal does.
func (c *client) say(line string) {
	c.t.Helper()
	c.write(line + "\r\n")
}

func (c *client) write(s string) {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(s)); err != nil {
		c.t.Fatalf("%s: %v", c.name, err)
	}
}

// next returns the next line from the server.
func (c *client) next() string {
	c.t.Helper()
	select {
	case line, ok := <-c.lines:
		if !ok {
			c.t.Fatalf("%s: the server hung up", c.name)
		}
		return line
	case <-time.After(patience):
		c.t.Fatalf("%s: nothing from the server after %v", c.name, patience)
	}
	return ""
}

// expect checks the next lines from the server.
func (c *client) expect(want ...string) {
	c.t.Helper()
	for _, w := range want {
		if got := c.next(); got != w {
			c.t.Fatalf("%s read %q, want %q", c.name, got, w)
		}
	}
}

// expectEnd checks that the server hangs up with nothing more to say.
func (c *client) expectEnd() {
	c.t.Helper()
	select {
	case line, ok := <-c.lines:
		if ok {
			c.t.Fatalf("%s read %q, want the end", c.name, line)
		}
	case <-time.After(patience):
		c.t.Fatalf("%s: the server did not hang up after %v", c.name, patience)
	}
}
