package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/lwtask/lwtask/examples/internal/progtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The server waits 25ms at a time and the client pauses 400ms: while the
// client pauses, the server's deadlines pass many times over, however
// slow the machine.
const (
	serverTimeout = "25ms"
	clientPause   = "400ms"
)

// The server and the slow client in one process, on one scheduler.
func TestDemo(t *testing.T) {
	var stdout, stderr bytes.Buffer
	// No -addr: the demo must pick a free port itself, even with the
	// default one taken.
	if l, err := net.Listen("tcp", "127.0.0.1:10000"); err == nil {
		defer l.Close()
	}
	code := run([]string{"-demo", "-timeout", serverTimeout, "-pause", clientPause}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit status %d: %s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	var client, server []string
	for _, line := range lines[1:] {
		if c, ok := strings.CutPrefix(line, "client: "); ok {
			client = append(client, c)
		} else {
			server = append(server, line)
		}
	}
	port := portOf(t, lines[0])
	checkClient(t, client, port)
	peer := peerOf(t, server)

	// The connection's task did other work in each of the client's
	// pauses: between connecting and the first message, and between the
	// messages.
	checkOtherWork(t, lines, peer, "new connection from ", "client: sending ", "client: sending ")
	checkEchoes(t, server, peer)
	last := server[len(server)-1]
	if want := fmt.Sprintf("did other work %d times while waiting", timedOut(server)); last != want {
		t.Errorf("last line %q, want %q", last, want)
	}
}

// The server and the slow client as two processes, as the seed runs them.
func TestServerAndSlowClient(t *testing.T) {
	bin := progtest.Build(t)
	server := exec.Command(bin, "-serve", "-addr", "127.0.0.1:0", "-timeout", serverTimeout)
	server.Stderr = os.Stderr
	stdout, err := server.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Process.Kill(); server.Wait() })
	serverOut := bufio.NewScanner(stdout)
	if !serverOut.Scan() {
		t.Fatal("server printed nothing")
	}
	port := portOf(t, serverOut.Text())

	client := exec.Command(bin, "-addr", "127.0.0.1:"+port, "-pause", clientPause)
	client.Stderr = os.Stderr
	out, err := client.Output()
	if err != nil {
		t.Fatalf("client: %v\n%s", err, out)
	}
	checkClient(t, strings.Split(strings.TrimSuffix(string(out), "\n"), "\n"), port)

	// Stop the server once it has seen the client hang up.
	var log []string
	for serverOut.Scan() {
		log = append(log, serverOut.Text())
		if strings.HasPrefix(serverOut.Text(), "closing ") {
			break
		}
	}
	server.Process.Signal(syscall.SIGINT)
	for serverOut.Scan() {
		log = append(log, serverOut.Text())
	}
	if err := server.Wait(); err != nil {
		t.Errorf("server: %v", err)
	}
	peer := peerOf(t, log)
	checkOtherWork(t, log, peer, "new connection from ", "received ", "received ")
	checkEchoes(t, log, peer)
	last := log[len(log)-1]
	if want := fmt.Sprintf("did other work %d times while waiting", timedOut(log)); last != want {
		t.Errorf("last line %q, want %q", last, want)
	}
}

func TestBadFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-timeout", "soon"}, &stdout, &stderr); code != 2 {
		t.Errorf("exit status %d, want 2", code)
	}
	// Flags that parse but make no sense: status 2 and one line saying
	// why. A timeout of zero or less would have the server's deadlines
	// pass at once, and it would spin; -demo would not end.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-demo", "-timeout", "0"}, "timeout: -timeout must be positive\n"},
		{[]string{"-demo", "-timeout", "-1s"}, "timeout: -timeout must be positive\n"},
		{[]string{"-serve", "-addr", "127.0.0.1:0", "-timeout", "-1ns"}, "timeout: -timeout must be positive\n"},
		{[]string{"extra"}, "timeout: unexpected argument \"extra\"\n"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(tc.args, &stdout, &stderr); code != 2 || stdout.Len() > 0 || stderr.String() != tc.want {
			t.Errorf("%q: exit status %d, stdout %q, stderr %q; want 2 and %q", tc.args, code, stdout.String(), stderr.String(), tc.want)
		}
	}
}

var startingUp = regexp.MustCompile(`^starting up on 127\.0\.0\.1 port (\d+)$`)

func portOf(t *testing.T, line string) string {
	t.Helper()
	m := startingUp.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("first line %q, want the server starting up", line)
	}
	return m[1]
}

// peerOf returns the address of the server's one client.
func peerOf(t *testing.T, server []string) string {
	t.Helper()
	for _, line := range server {
		if peer, ok := strings.CutPrefix(line, "new connection from "); ok {
			return peer
		}
	}
	t.Fatalf("no connection in the server's output:\n%s", strings.Join(server, "\n"))
	return ""
}

// checkClient checks the slow client's output. The echoes come back 16
// bytes at a time, but only the bytes are checked, not how they were
// split.
func checkClient(t *testing.T, lines []string, port string) {
	t.Helper()
	want := []string{
		"connecting to 127.0.0.1 port " + port,
		`sending "Part one of the message."`,
		`sending "Part two of the message."`,
	}
	if len(lines) < len(want)+1 || strings.Join(lines[:len(want)], "\n") != strings.Join(want, "\n") {
		t.Fatalf("client output:\n%s\nwant it to start:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	var echoed strings.Builder
	for _, line := range lines[len(want) : len(lines)-1] {
		quoted, ok := strings.CutPrefix(line, "received ")
		s, err := strconv.Unquote(quoted)
		if !ok || err != nil || len(s) > 16 {
			t.Errorf("client line %q, want received and at most 16 bytes", line)
		}
		echoed.WriteString(s)
	}
	if got, want := echoed.String(), strings.Join(messages, ""); got != want {
		t.Errorf("client received %q, want %q", got, want)
	}
	if last := lines[len(lines)-1]; last != "closing socket" {
		t.Errorf("client's last line %q, want closing socket", last)
	}
}

// checkEchoes checks that the server echoed both messages and saw the
// client hang up.
func checkEchoes(t *testing.T, server []string, peer string) {
	t.Helper()
	var got []string
	for _, line := range server {
		if strings.HasPrefix(line, "received ") || strings.HasPrefix(line, "sending ") || strings.HasPrefix(line, "closing ") {
			got = append(got, line)
		}
	}
	var want []string
	for _, m := range messages {
		want = append(want, fmt.Sprintf("received %q from %s", m, peer), fmt.Sprintf("sending %q to %s", m, peer))
	}
	want = append(want, "closing "+peer+" after reading no data")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("server echoed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// checkOtherWork checks that the connection's task timed out and did
// other work between each pair of consecutive marks: the next lines, in
// order, starting so.
func checkOtherWork(t *testing.T, lines []string, peer string, marks ...string) {
	t.Helper()
	work := "  " + peer + " timed out, do some other work here"
	from := nextLine(lines, 0, marks[0])
	for _, mark := range marks[1:] {
		to := nextLine(lines, from+1, mark)
		if from < 0 || to < 0 {
			t.Fatalf("no lines starting %q in order in:\n%s", marks, strings.Join(lines, "\n"))
		}
		if !slices.Contains(lines[from+1:to], work) {
			t.Errorf("no other work done for %s between %q and %q in:\n%s", peer, lines[from], lines[to], strings.Join(lines, "\n"))
		}
		from = to
	}
}

// nextLine returns the index of the first line from i on that starts with
// prefix, or -1.
func nextLine(lines []string, i int, prefix string) int {
	if i < 0 {
		return -1
	}
	for ; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], prefix) {
			return i
		}
	}
	return -1
}

func timedOut(lines []string) int {
	n := 0
	for _, line := range lines {
		if strings.HasSuffix(line, " timed out, do some other work here") {
			n++
		}
	}
	return n
}
