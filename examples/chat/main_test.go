package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lwtask/lwtask/examples/internal/progtest"
)

// wantDemo is what -demo prints.
const wantDemo = `alice connects
alice < Welcome to the lwtask chat. What is your name?
alice > alice
alice < Hello, alice. Nobody else is here yet.
bob connects
bob < Welcome to the lwtask chat. What is your name?
bob > bob
bob < Hello, bob. Here with you: alice.
alice < * bob has joined
alice > Hello, bob!
bob < alice: Hello, bob!
bob > Hi, alice. Where is carol?
alice < bob: Hi, alice. Where is carol?
carol connects
carol < Welcome to the lwtask chat. What is your name?
carol > carol
carol < Hello, carol. Here with you: alice, bob.
alice < * carol has joined
bob < * carol has joined
(carol stops reading; alice sends long lines, which bob reads, until carol is dropped)
bob < * carol has left
(bob read every line alice sent)
alice < * carol has left
alice > Only the two of us now.
bob < alice: Only the two of us now.
bob > /quit
bob < Bye.
bob is disconnected
alice < * bob has left
alice > /quit
alice < Bye.
alice is disconnected
`

// TestDemo runs the demo in the test's process, as go run would: the
// script checks every line it reads, and the transcript is always the
// same. No -addr: the demo picks a free port, even with the default taken.
func TestDemo(t *testing.T) {
	if l, err := net.Listen("tcp", defaultAddr); err == nil {
		defer l.Close()
	}
	for _, args := range [][]string{{"-demo"}, {"-demo", "-outbox", "1"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 0 {
			t.Fatalf("%q: exit status %d: %s\n%s", args, code, stderr.String(), stdout.String())
		}
		if got := stdout.String(); got != wantDemo {
			t.Errorf("%q printed:\n%s\nwant:\n%s", args, got, wantDemo)
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-nonsense"}, {"extra"}, {"-outbox", "0"}, {"-outbox", "many"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 2 || stdout.Len() > 0 || stderr.Len() == 0 {
			t.Errorf("%q: exit status %d, stdout %q, stderr %q; want 2 and a message", args, code, stdout.String(), stderr.String())
		}
	}
	// An outbox too big to make: refused with one line, not a panic at
	// the demo's first join.
	for _, args := range [][]string{{"-demo", "-outbox", "10001"}, {"-demo", "-outbox", "100000000000000"}} {
		var stdout, stderr bytes.Buffer
		const want = "chat: -outbox must be at most 10000\n"
		if code := run(args, &stdout, &stderr); code != 2 || stdout.Len() > 0 || stderr.String() != want {
			t.Errorf("%q: exit status %d, stdout %q, stderr %q; want 2 and %q", args, code, stdout.String(), stderr.String(), want)
		}
	}
}

// TestCommand runs the server as the program a user runs: it logs where
// it listens, serves, and ends with status 0 on SIGINT and SIGTERM, with
// members still connected. An address it cannot listen on is status 1.
func TestCommand(t *testing.T) {
	bin := progtest.Build(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		cmd := exec.Command(bin, "-addr", "127.0.0.1:0")
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		log := bufio.NewScanner(stderr)
		if !log.Scan() {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("the server logged nothing")
		}
		addr, ok := strings.CutPrefix(log.Text(), "chat: listening on ")
		if !ok {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("first log line %q", log.Text())
		}
		s := &testServer{addr: addr}
		alice := s.join(t, "alice", "Hello, alice. Nobody else is here yet.")
		bob := s.join(t, "bob", "Hello, bob. Here with you: alice.")
		alice.expect("* bob has joined")
		bob.say("hi")
		alice.expect("bob: hi")

		cmd.Process.Signal(sig)
		done := make(chan error, 1)
		go func() {
			io.Copy(io.Discard, stderr) // the rest of the log
			done <- cmd.Wait()
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%v: %v", sig, err)
			}
		case <-time.After(patience):
			cmd.Process.Kill()
			t.Fatalf("%v: the server did not stop", sig)
		}
		alice.expectEnd()
		bob.expectEnd()
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	out, err := exec.Command(bin, "-addr", l.Addr().String()).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "address already in use") {
		t.Errorf("listening on a busy address: %v\n%s", err, out)
	}
}

// TestTelnet has a real telnet client join the chat, talk with bob, and
// quit.
func TestTelnet(t *testing.T) {
	telnet, err := exec.LookPath("telnet")
	if err != nil {
		t.Skip("telnet is not installed (apt-get install telnet): ", err)
	}
	s := startServer(t, "", 16)
	bob := s.join(t, "bob", "Hello, bob. Nobody else is here yet.")

	host, port, _ := net.SplitHostPort(s.addr)
	cmd := exec.Command(telnet, host, port)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	session := newSyncBuffer()
	cmd.Stdout, cmd.Stderr = session, session
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
	// What a terminal gives telnet when the user types and presses Return.
	typeLine := func(line string) {
		if _, err := io.WriteString(stdin, line+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	waitFor := func(line string) {
		t.Helper()
		session.waitFor(t, done, line, func(text string) bool {
			return strings.Contains(text, line+"\r\n") || strings.Contains(text, line+"\n")
		})
	}
	waitFor(askName)
	typeLine("alice")
	waitFor("Hello, alice. Here with you: bob.")
	bob.expect("* alice has joined")
	bob.say("Hello, telnet user.")
	waitFor("bob: Hello, telnet user.")
	typeLine("Hello, bob!")
	bob.expect("alice: Hello, bob!")
	typeLine("/quit")
	waitFor("Bye.")
	bob.expect("* alice has left")
	select {
	case <-done:
	case <-time.After(patience):
		t.Fatalf("telnet is still running after /quit:\n%s", session)
	}
	if !strings.Contains(session.String(), "Connection closed by foreign host.") {
		t.Errorf("telnet session:\n%s\nwant the server to have hung up", session)
	}
}
