package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lwtask/lwtask/fdqueue/poller"
)

// TestProtocol drives one server per backend through the protocol, each
// subtest on its own connection.
func TestProtocol(t *testing.T) {
	forEachPoller(t, func(t *testing.T, backend string) {
		s := startServer(t, config{poller: backend, quiet: true})
		for _, tc := range protocolTests {
			t.Run(tc.name, func(t *testing.T) { tc.test(t, s) })
		}
		// Bad requests, lines too long and clients that leave are the
		// protocol's business, not errors: a quiet server logs none.
		if log := s.stderr.String(); strings.Contains(log, "Handler") {
			t.Errorf("the quiet server logged errors:\n%s", log)
		}
	})
}

var protocolTests = []struct {
	name string
	test func(t *testing.T, s *testServer)
}{
	{"Spam", testSpam},
	{"BadRequests", testBadRequests},
	{"Pipelined", testPipelined},
	{"ManyPipelined", testManyPipelined},
	{"SplitRequest", testSplitRequest},
	{"LastLineWithoutNewline", testLastLineWithoutNewline},
	{"LongestLine", testLongestLine},
	{"LineTooLong", testLineTooLong},
	{"SlowReaderDoesNotBlockOthers", testSlowReader},
	{"Telnet", testTelnet},
}

// askAll makes the requests on one connection in turn: a reply with a line
// too many or too few would garble the next.
func askAll(t *testing.T, c *client, requests []string, lines []int) {
	t.Helper()
	for i, req := range requests {
		if err := c.ask(req, lines[i]); err != nil {
			t.Fatalf("request %q: %v", req, err)
		}
	}
}

func testSpam(t *testing.T, s *testServer) {
	c := dial(t, s.addr)
	askAll(t, c,
		[]string{"SPAM 1\n", "SPAM 2\n", "SPAM 3\r\n", "SPAM 10\n", "SPAM 1000\n",
			// As Python's split and int take them:
			"SPAM +2\n", "SPAM 007\n", "\t SPAM \t 4 \t\n", "SPAM\v5\f\r\n"},
		[]int{1, 2, 3, 10, 1000, 2, 7, 4, 5})
}

// testBadRequests checks that every bad request is refused and that the
// connection stays open for the next.
func testBadRequests(t *testing.T, s *testServer) {
	c := dial(t, s.addr)
	for _, req := range []string{
		"SPAM 0\n", "SPAM -1\n", "SPAM x\n", "EGGS 3\n", "SPAM\n", "SPAM 1 2\n",
		"\n", "\r\n", "   \n", "\x00\x01\xfe\xff\n", "SPAM \x003\n", "\xff\xfeSPAM 3\n",
		"spam 3\n", "SPAM3\n", "SPAM 3.0\n", "SPAM 0x10\n", "SPAM 1e3\n", "SPAM 1_000\n",
		"SPAM -0\n", "SPAM ++1\n", "SPAM +\n", "SPAM -9223372036854775809\n",
		"SPAM SPAM\n", "SPAM 2 SPAM\n", "EGGS\r\n", "SPAM 2 junk\n", "SPAM 2x\n",
		// White space to Unicode, not to the essay's split():
		"SPAM\u00a03\n", "SPAM\u20033\n", "\u0085SPAM 3\n", "SPAM 3\u3000\n",
	} {
		askAll(t, c, []string{req, "SPAM 1\n"}, []int{0, 1})
	}
}

func testPipelined(t *testing.T, s *testServer) {
	c := dial(t, s.addr)
	if _, err := io.WriteString(c.conn, "SPAM 1\nEGGS\r\nSPAM 2\r\n\nSPAM 3\nSPAM 0\n"); err != nil {
		t.Fatal(err)
	}
	want := reply(1) + reply(0) + reply(2) + reply(0) + reply(3) + reply(0)
	if err := c.expect(want); err != nil {
		t.Fatal(err)
	}
}

// testManyPipelined sends more requests at once than the server's read
// buffer holds, so that lines straddle its refills.
func testManyPipelined(t *testing.T, s *testServer) {
	c := dial(t, s.addr)
	var requests bytes.Buffer
	var want strings.Builder
	for i := range 3000 {
		n := i % 4 // 0: a bad request
		if n == 0 {
			requests.WriteString("SPAM nothing\r\n")
		} else {
			fmt.Fprintf(&requests, "SPAM %d\n", n)
		}
		want.WriteString(reply(n))
	}
	written := make(chan error, 1)
	go func() {
		_, err := c.conn.Write(requests.Bytes())
		written <- err
	}()
	err := c.expect(want.String())
	if werr := <-written; werr != nil {
		t.Fatal(werr)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// testSplitRequest sends a request in pieces, as a slow network may.
func testSplitRequest(t *testing.T, s *testServer) {
	c := dial(t, s.addr)
	for _, piece := range []string{"SP", "AM ", "2", "\r", "\n"} {
		if _, err := io.WriteString(c.conn, piece); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.expect(reply(2)); err != nil {
		t.Fatal(err)
	}
}

// testLastLineWithoutNewline: a request ended by the client closing its
// side counts, is answered, and then the server closes.
func testLastLineWithoutNewline(t *testing.T, s *testServer) {
	c := dial(t, s.addr)
	if _, err := io.WriteString(c.conn, "SPAM 1\nSPAM 2"); err != nil {
		t.Fatal(err)
	}
	if err := c.conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if err := c.expect(reply(1) + reply(2)); err != nil {
		t.Fatal(err)
	}
	if err := c.expectEnd(); err != nil {
		t.Fatal(err)
	}
}

// paddedRequest returns "SPAM n" padded with blanks to size bytes.
func paddedRequest(n, size int) string {
	head, tail := "SPAM", fmt.Sprint(n)
	return head + strings.Repeat(" ", size-len(head)-len(tail)) + tail
}

func testLongestLine(t *testing.T, s *testServer) {
	c := dial(t, s.addr)
	longest := paddedRequest(3, 4096)
	askAll(t, c,
		[]string{longest + "\n", longest + "\r\n", strings.Repeat("x", 4096) + "\n", "SPAM 1\n"},
		[]int{3, 3, 0, 1})
}

func testLineTooLong(t *testing.T, s *testServer) {
	for _, tc := range []struct{ name, request string }{
		{"LF", paddedRequest(1, 4097) + "\n"},
		{"CRLF", paddedRequest(1, 4097) + "\r\n"},
		{"FollowedByRequest", paddedRequest(1, 4097) + "\nSPAM 1\n"},
		{"NoLineEnd", paddedRequest(1, 5000)}, // and the client waits
		{"Huge", strings.Repeat("SPAM 1 ", 100000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, s.addr)
			// The server may close before it has read everything, so
			// the write can fail: only the reply matters.
			written := make(chan struct{})
			go func() {
				defer close(written)
				io.WriteString(c.conn, tc.request)
			}()
			defer func() { <-written }()
			if err := c.expect(reply(0)); err != nil {
				t.Fatal(err)
			}
			if err := c.expectEnd(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// testSlowReader: a client that asks for endless spam and never reads it
// leaves the server free to serve another.
func testSlowReader(t *testing.T, s *testServer) {
	glutton := dial(t, s.addr)
	if _, err := io.WriteString(glutton.conn, "SPAM 1000000000\n"); err != nil {
		t.Fatal(err)
	}
	// The server is streaming to it: the socket buffers fill up behind.
	if err := glutton.expect(reply(1000)); err != nil {
		t.Fatal(err)
	}
	c := dial(t, s.addr)
	for n := 1; n <= 20; n++ {
		if err := c.ask(fmt.Sprintf("SPAM %d\n", n), n); err != nil {
			t.Fatal(err)
		}
	}
}

// testTelnet has a real telnet client talk to the server, as in the
// essay's sample session.
func testTelnet(t *testing.T, s *testServer) {
	telnet, err := exec.LookPath("telnet")
	if err != nil {
		t.Skip("telnet is not installed (apt-get install telnet): ", err)
	}
	host, port, _ := strings.Cut(s.addr, ":")
	cmd := exec.Command(telnet, host, port)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := newOutput()
	cmd.Stdout, cmd.Stderr = stdout, stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	defer func() {
		stdin.Close() // telnet quits at the end of its input
		select {
		case <-done:
		case <-time.After(patience):
			cmd.Process.Kill()
			<-done
		}
	}()
	// What a terminal gives telnet when the user types SPAM 3 and presses
	// Return. ("SPAM 3\r\n" would not do: telnet sends a bare CR as the
	// network's CR NUL, so the server would see "SPAM 3\r\x00", as the
	// essay's Python would, and refuse it.)
	if _, err := io.WriteString(stdin, "SPAM 3\n"); err != nil {
		t.Fatal(err)
	}
	threeSpams := func(string) bool { return strings.Count(stdout.String(), spamLine) == 3 }
	if _, ok := stdout.waitFor(done, threeSpams); !ok {
		t.Fatalf("telnet session:\n%s", stdout)
	}
	if session := stdout.String(); !strings.Contains(session, reply(3)) {
		t.Errorf("telnet session:\n%s\nwant the reply:\n%s", session, reply(3))
	}
}

func TestLogsConnections(t *testing.T) {
	forEachPoller(t, func(t *testing.T, backend string) {
		s := startServer(t, config{poller: backend})
		c := dial(t, s.addr)
		want := "Listener: Accepted connection from " + c.localAddr()
		s.waitLog(t, want, func(line string) bool { return line == want })
		if err := c.ask("SPAM 1\n", 1); err != nil {
			t.Fatal(err)
		}
	})
}

func TestQuietLogsNoConnections(t *testing.T) {
	forEachPoller(t, func(t *testing.T, backend string) {
		s := startServer(t, config{poller: backend, quiet: true})
		c := dial(t, s.addr)
		if err := c.ask("SPAM 1\n", 1); err != nil {
			t.Fatal(err)
		}
		c.conn.Close()
		if code := s.stop(t, syscall.SIGTERM); code != 0 {
			t.Errorf("exit status %d", code)
		}
		if log, want := s.stderr.String(), "Listening on "+s.addr+"\n"; log != want {
			t.Errorf("stderr:\n%s\nwant:\n%s", log, want)
		}
	})
}

// TestSignals stops a busy server: one client is being streamed spam,
// one is idle and one is half way through a request.
func TestSignals(t *testing.T) {
	for name, sig := range map[string]syscall.Signal{"SIGINT": syscall.SIGINT, "SIGTERM": syscall.SIGTERM} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			forEachPoller(t, func(t *testing.T, backend string) {
				s := startServer(t, config{poller: backend})
				streamed := dial(t, s.addr)
				if err := streamed.ask("SPAM 1000000000\n", 100); err != nil {
					t.Fatal(err)
				}
				idle := dial(t, s.addr)
				if err := idle.ask("SPAM 1\n", 1); err != nil {
					t.Fatal(err)
				}
				partial := dial(t, s.addr)
				io.WriteString(partial.conn, "SPAM")
				if code := s.stop(t, sig); code != 0 {
					t.Errorf("exit status %d after %v; stderr:\n%s", code, sig, s.stderr)
				}
			})
		})
	}
}

var flagTests = []struct {
	name     string
	args     []string
	wantCode int
	wantLog  string
}{
	{"UnknownPoller", []string{"-addr", "127.0.0.1:0", "-poller", "nosuch"}, 2, `no poller backend "nosuch"`},
	{"StrayArgument", []string{"-addr", "127.0.0.1:0", "stray"}, 2, `unexpected argument "stray"`},
	{"UnknownFlag", []string{"-addr", "127.0.0.1:0", "-nosuch"}, 2, "flag provided but not defined: -nosuch"},
	{"MissingValue", []string{"-addr", "127.0.0.1:0", "-poller"}, 2, "flag needs an argument: -poller"},
	{"BadAddress", []string{"-addr", "127.0.0.1:99999"}, 1, "invalid port"},
	{"TraceExtension", []string{"-addr", "127.0.0.1:0", "-trace", "trace.txt"}, 2, "-trace trace.txt: want a .json or .html file"},
	{"TraceEvents", []string{"-addr", "127.0.0.1:0", "-trace", "t.json", "-trace-events", "0"}, 2, "-trace-events 0: want at least 1"},
	{"BadExpvarAddress", []string{"-addr", "127.0.0.1:0", "-expvar", "127.0.0.1:99999"}, 1, "-expvar: "},
	{"Help", []string{"-h"}, 0, "-poller"},
}

func TestFlags(t *testing.T) {
	for _, tc := range flagTests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), patience)
			defer cancel()
			cmd := serverCommand(ctx, t, tc.args...)
			stderr, err := cmd.CombinedOutput()
			if _, ok := err.(*exec.ExitError); err != nil && !ok {
				t.Fatal(err)
			}
			checkExit(t, cmd.ProcessState.ExitCode(), string(stderr), tc.wantCode, tc.wantLog)
		})
	}
}

// TestRunFlags is TestFlags in process.
func TestRunFlags(t *testing.T) {
	for _, tc := range flagTests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(tc.args, &stderr)
			checkExit(t, code, stderr.String(), tc.wantCode, tc.wantLog)
		})
	}
}

func checkExit(t *testing.T, code int, stderr string, wantCode int, wantLog string) {
	t.Helper()
	if code != wantCode {
		t.Errorf("exit status %d, want %d", code, wantCode)
	}
	if !strings.Contains(stderr, wantLog) {
		t.Errorf("stderr:\n%s\nwant it to mention %q", stderr, wantLog)
	}
}

func TestAddressInUse(t *testing.T) {
	s := startServer(t, config{quiet: true})
	var stderr bytes.Buffer
	code := run([]string{"-addr", s.addr}, &stderr)
	checkExit(t, code, stderr.String(), 1, "address already in use")
}

// TestManyClients has a thousand clients connected at once, each making a
// few requests once all are connected.
func TestManyClients(t *testing.T) {
	const clients = 1000
	needFds(t, len(poller.Names())*clients+100)
	forEachPoller(t, func(t *testing.T, backend string) {
		s := startServer(t, config{poller: backend, quiet: true})
		var connected, finished sync.WaitGroup
		connected.Add(clients)
		errs := make(chan error, clients)
		for i := range clients {
			finished.Add(1)
			go func() {
				defer finished.Done()
				errs <- manyClient(s.addr, i, &connected)
			}()
		}
		finished.Wait()
		close(errs)
		failed := 0
		for err := range errs {
			if err == nil {
				continue
			}
			if failed++; failed <= 5 {
				t.Error(err)
			}
		}
		if failed > 0 {
			t.Errorf("%d of %d clients failed", failed, clients)
		}
	})
}

func manyClient(addr string, i int, connected *sync.WaitGroup) error {
	c, err := newClient(addr)
	connected.Done()
	if err != nil {
		return fmt.Errorf("client %d: %w", i, err)
	}
	defer c.conn.Close()
	connected.Wait()
	for _, n := range []int{i%5 + 1, 0, i%3 + 1} {
		request := fmt.Sprintf("SPAM %d\r\n", n)
		if err := c.ask(request, n); err != nil {
			return fmt.Errorf("client %d, %q: %w", i, request, err)
		}
	}
	return nil
}
