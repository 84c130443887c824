package main

import (
	"bufio"
	"bytes"
	"io"
	"log"
	"net"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// conversations are requests and the exact replies the essay's protocol
// gives them; each is sent in one write, then the client half-closes.
var conversations = []struct {
	name, send, want string
}{
	{"spam", "SPAM 3\n", "100 SPAM FOLLOWS\n" + strings.Repeat("spam glorious spam\n", 3)},
	{"crlf and spaces", "  SPAM\t+2 \r\n", "100 SPAM FOLLOWS\n" + strings.Repeat("spam glorious spam\n", 2)},
	{"zero", "SPAM 0\n", badRequest},
	{"negative", "SPAM -1\n", badRequest},
	{"lower case", "spam 1\n", badRequest},
	{"no number", "SPAM\n", badRequest},
	{"extra field", "SPAM 1 2\n", badRequest},
	{"empty line", "\n", badRequest},
	{"pipelined", "SPAM 1\nEGGS\nSPAM 2\n", "100 SPAM FOLLOWS\nspam glorious spam\n" + badRequest +
		"100 SPAM FOLLOWS\nspam glorious spam\nspam glorious spam\n"},
	{"unterminated last line", "SPAM 1\nSPAM 1", "100 SPAM FOLLOWS\nspam glorious spam\n100 SPAM FOLLOWS\nspam glorious spam\n"},
	{"longest line", "SPAM" + strings.Repeat(" ", maxLine-5) + "1\r\n", "100 SPAM FOLLOWS\nspam glorious spam\n"},
	{"line too long", "SPAM 1\n" + strings.Repeat(" ", maxLine+1) + "\n", "100 SPAM FOLLOWS\nspam glorious spam\n" + badRequest},
	{"unterminated too long", strings.Repeat(" ", maxLine+1), badRequest},
}

func TestConversations(t *testing.T) {
	addr := startInProcess(t)
	for _, tc := range conversations {
		t.Run(tc.name, func(t *testing.T) {
			if got := converse(t, addr, tc.send); got != tc.want {
				t.Errorf("sent %.40q: got %q, want %q", tc.send, got, tc.want)
			}
		})
	}
}

// TestSameAsSpamServer holds netspam to the lwtask server's replies, byte
// for byte, so that the benchmark compares servers doing the same work.
func TestSameAsSpamServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts cmd/spamserver")
	}
	ours := startInProcess(t)
	theirs := startSpamServer(t)
	for _, tc := range conversations {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := converse(t, ours, tc.send), converse(t, theirs, tc.send); got != want {
				t.Errorf("sent %.40q: netspam replied %q, spamserver %q", tc.send, got, want)
			}
		})
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-nosuchflag"}, {"extra"}} {
		if got := run(args, io.Discard); got != 2 {
			t.Errorf("run(%q) = %d, want 2", args, got)
		}
	}
}

// unexpected reports whether a server's log holds more than the
// conversations that end with a line too long.
func unexpected(log string) bool {
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		if line != "" && !strings.HasSuffix(line, "line too long") {
			return true
		}
	}
	return false
}

// converse sends one message to a new connection, half-closes it and
// returns everything the server sends back before it closes.
func converse(t *testing.T, addr, send string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, send); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("sent %.40q: %v after %q", send, err, got)
	}
	return string(got)
}

// startInProcess serves on a loopback port until the test ends.
func startInProcess(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	s := newServer(log.New(&logged, "", 0), true)
	done := make(chan error)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Close(l)
		if err := <-done; err != nil || unexpected(logged.String()) {
			t.Errorf("Serve: %v, log:\n%s", err, &logged)
		}
	})
	return l.Addr().String()
}

// startSpamServer builds and starts cmd/spamserver on a loopback port
// until the test ends.
func startSpamServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "spamserver")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if out, err := exec.Command(goTool, "build", "-o", bin, "../../cmd/spamserver").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-quiet")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewReader(stderr)
	first, err := lines.ReadString('\n')
	drained := make(chan string)
	go func() {
		rest, _ := io.ReadAll(lines)
		drained <- string(rest)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		log := <-drained
		if err := cmd.Wait(); err != nil || unexpected(log) {
			t.Errorf("spamserver: %v, log:\n%s", err, log)
		}
	})
	addr, ok := strings.CutPrefix(strings.TrimSpace(first), "Listening on ")
	if err != nil || !ok {
		t.Fatalf("spamserver: first line %q, %v", first, err)
	}
	return addr
}
