package main

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/lwtask/lwtask/examples/internal/progtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wantClient is the seed's client output, with the client's two local
// addresses written A and B and the server's port P.
const wantClient = `connecting to 127.0.0.1 port P
A: sending "This is the message. "
B: sending "This is the message. "
A: received "This is the message. "
B: received "This is the message. "
A: sending "It will be sent "
B: sending "It will be sent "
A: received "It will be sent "
B: received "It will be sent "
A: sending "in parts."
B: sending "in parts."
A: received "in parts."
B: received "in parts."
`

// The server and the client as two real processes, as the seed runs them.
func TestServerAndClient(t *testing.T) {
	bin := progtest.Build(t)
	server := exec.Command(bin, "-serve", "-addr", "127.0.0.1:0")
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

	client := exec.Command(bin, "-addr", "127.0.0.1:"+port)
	client.Stderr = os.Stderr
	out, err := client.Output()
	if err != nil {
		t.Fatalf("client: %v\n%s", err, out)
	}
	checkClient(t, string(out), port)

	// Both connections end before the server is told to stop, so that
	// the server's log is complete.
	var log []string
	for closed := 0; closed < 2 && serverOut.Scan(); {
		log = append(log, serverOut.Text())
		if strings.HasPrefix(serverOut.Text(), "closing ") {
			closed++
		}
	}
	server.Process.Signal(syscall.SIGINT)
	for serverOut.Scan() {
		log = append(log, serverOut.Text())
	}
	if err := server.Wait(); err != nil {
		t.Errorf("server: %v", err)
	}
	checkServer(t, log, clientAddrs(string(out)))
}

// Both in one process, on one scheduler.
func TestDemo(t *testing.T) {
	runDemoTest(t, "-demo", "-addr", "127.0.0.1:0")
}

// TestDemoPortTaken: with no -addr the demo does not need the default port,
// 10000, to be free.
func TestDemoPortTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:10000")
	switch {
	case err == nil:
		defer l.Close()
	case errors.Is(err, syscall.EADDRINUSE):
		// Taken already, which will do.
	default:
		t.Fatal(err)
	}
	runDemoTest(t, "-demo")
}

// runDemoTest runs the demo with args and checks its output.
func runDemoTest(t *testing.T, args ...string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit status %d: %s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	port := portOf(t, lines[0])
	var client, server []string
	for _, line := range lines[1:] {
		if strings.HasPrefix(line, "connecting ") || strings.HasPrefix(line, "127.0.0.1:") {
			client = append(client, line)
		} else {
			server = append(server, line)
		}
	}
	clientOut := strings.Join(client, "\n") + "\n"
	checkClient(t, clientOut, port)
	checkServer(t, server, clientAddrs(clientOut))
}

func TestBadFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-nonsense"}, &stdout, &stderr); code != 2 {
		t.Errorf("exit status %d, want 2", code)
	}
	if code := run([]string{"-addr", "127.0.0.1:0", "extra"}, &stdout, &stderr); code != 2 {
		t.Errorf("with an argument: exit status %d, want 2", code)
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

var localAddrPrefix = regexp.MustCompile(`(?m)^(127\.0\.0\.1:\d+):`)

// clientAddrs returns the client's two local addresses, in the order the
// client used them.
func clientAddrs(out string) []string {
	var addrs []string
	for _, m := range localAddrPrefix.FindAllStringSubmatch(out, -1) {
		if !slices.Contains(addrs, m[1]) {
			addrs = append(addrs, m[1])
		}
	}
	return addrs
}

func checkClient(t *testing.T, out, port string) {
	t.Helper()
	addrs := clientAddrs(out)
	if len(addrs) != 2 {
		t.Fatalf("client used %d local addresses, want 2:\n%s", len(addrs), out)
	}
	got := strings.NewReplacer(addrs[0], "A", addrs[1], "B", "port "+port, "port P").Replace(out)
	if got != wantClient {
		t.Errorf("client output:\n%s\nwant:\n%s", got, wantClient)
	}
}

// checkServer checks that the server saw both connections, echoed every
// message on each in order, and saw each end. How the two connections'
// lines interleave depends on the order events arrive in.
func checkServer(t *testing.T, log []string, addrs []string) {
	t.Helper()
	for _, addr := range addrs {
		var got []string
		for _, line := range log {
			if strings.HasSuffix(line, " "+addr) || strings.Contains(line, " "+addr+" ") {
				got = append(got, line)
			}
		}
		want := []string{"new connection from " + addr}
		for _, m := range messages {
			want = append(want, `received "`+m+`" from `+addr, `sending "`+m+`" to `+addr)
		}
		want = append(want, "closing "+addr+" after reading no data")
		if !slices.Equal(got, want) {
			t.Errorf("server's lines about %s:\n%s\nwant:\n%s", addr, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	if len(log) != 2*(2+2*len(messages)) {
		t.Errorf("server printed %d lines, want %d:\n%s", len(log), 2*(2+2*len(messages)), strings.Join(log, "\n"))
	}
}
