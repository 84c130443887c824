package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestChat: names, greetings, broadcast to everyone but the sender, joins
// and leaves, /quit and hanging up, on every poller backend.
func TestChat(t *testing.T) {
	forEachPoller(t, func(t *testing.T, backend string) {
		s := startServer(t, backend, 16)
		alice := s.join(t, "alice", "Hello, alice. Nobody else is here yet.")
		bob := s.join(t, "bob", "Hello, bob. Here with you: alice.")
		alice.expect("* bob has joined")

		alice.say("Hello, bob!")
		bob.expect("alice: Hello, bob!")
		bob.say("Hi, alice.")
		// alice's next line is bob's: her own never came back to her.
		alice.expect("bob: Hi, alice.")

		carol := s.join(t, "carol", "Hello, carol. Here with you: alice, bob.")
		alice.expect("* carol has joined")
		bob.expect("* carol has joined")
		carol.say("Hello, everyone.")
		alice.expect("carol: Hello, everyone.")
		bob.expect("carol: Hello, everyone.")

		// Empty lines are not said; white space around a line is trimmed.
		alice.say("")
		alice.say("   ")
		alice.say("\t spaced out \t")
		bob.expect("alice: spaced out")
		carol.expect("alice: spaced out")

		// /quit, with white space around it too.
		bob.say(" /quit ")
		bob.expect("Bye.")
		bob.expectEnd()
		alice.expect("* bob has left")
		carol.expect("* bob has left")

		// Hanging up.
		carol.conn.Close()
		alice.expect("* carol has left")

		// The names are free again.
		dave := s.join(t, "bob", "Hello, bob. Here with you: alice.")
		alice.expect("* bob has joined")
		dave.say("I am the new bob.")
		alice.expect("bob: I am the new bob.")

		s.log.waitFor(t, s.done, "carol leaving", func(log string) bool { return strings.Contains(log, "\ncarol left: ") })
		log := s.log.String()
		for _, want := range []string{"alice joined from 127.0.0.1:", "bob left: quit"} {
			if !strings.Contains(log, want) {
				t.Errorf("log has no %q:\n%s", want, log)
			}
		}
	})
}

// TestNames: a name is asked again until it is valid and free.
func TestNames(t *testing.T) {
	s := startServer(t, "", 16)
	alice := s.join(t, "alice", "Hello, alice. Nobody else is here yet.")
	c := s.dial(t)
	c.expect(askName)
	badName := "A name is 1 to 20 letters, digits, - or _. What is your name?"
	for _, name := range []string{"", "  ", "two words", "alice:", "*", "/me", "a\x1b[31mred",
		strings.Repeat("x", 21), "\xff\xfe"} {
		c.say(name)
		c.expect(badName)
	}
	c.say("alice")
	c.expect("Someone here is called alice already. What is your name?")
	c.say(" Zoë_2-b ")
	c.expect("Hello, Zoë_2-b. Here with you: alice.")
	alice.expect("* Zoë_2-b has joined")
	// Twenty characters, not bytes.
	s.join(t, strings.Repeat("é", 20), "Hello, "+strings.Repeat("é", 20)+". Here with you: alice, Zoë_2-b.")
	alice.expect("* " + strings.Repeat("é", 20) + " has joined")

	// /quit before giving a name.
	q := s.dial(t)
	q.expect(askName)
	q.say("/quit")
	q.expect("Bye.")
	q.expectEnd()
}

// TestPaste: many lines in one write reach the others, every one, though
// they are many more than an outbox holds: the sender lets the others
// take each line before it passes on the next.
func TestPaste(t *testing.T) {
	s := startServer(t, "", 2)
	alice := s.join(t, "alice", "Hello, alice. Nobody else is here yet.")
	bob := s.join(t, "bob", "Hello, bob. Here with you: alice.")
	alice.expect("* bob has joined")
	carol := s.join(t, "carol", "Hello, carol. Here with you: alice, bob.")
	alice.expect("* carol has joined")
	bob.expect("* carol has joined")
	var paste strings.Builder
	for i := range 500 {
		fmt.Fprintf(&paste, "line %d\r\n", i)
	}
	alice.write(paste.String())
	for i := range 500 {
		bob.expect(fmt.Sprintf("alice: line %d", i))
		carol.expect(fmt.Sprintf("alice: line %d", i))
	}
	bob.say("all here")
	alice.expect("bob: all here")
	if log := s.log.String(); strings.Contains(log, "dropping") {
		t.Errorf("someone was dropped:\n%s", log)
	}
}

// TestSlowMemberDropped: dave stops reading while alice sends line after
// line. His outbox fills once his socket is full, and he is dropped; carol,
// who reads, gets every line, and the others never wait for dave.
func TestSlowMemberDropped(t *testing.T) {
	forEachPoller(t, func(t *testing.T, backend string) {
		s := startServer(t, backend, 16)
		alice := s.join(t, "alice", "Hello, alice. Nobody else is here yet.")
		carol := s.join(t, "carol", "Hello, carol. Here with you: alice.")
		alice.expect("* carol has joined")

		// dave reads up to his greeting, and then nothing at all.
		dave := s.dialQuiet(t)
		daveIn := newLineReader(t, dave)
		daveIn.expect(askName)
		dave.say("dave")
		daveIn.expect("Hello, dave. Here with you: alice, carol.")
		alice.expect("* dave has joined")
		carol.expect("* dave has joined")

		// alice sends long lines, eight at a time; carol reads each batch
		// before the next is sent, so that she never falls behind herself.
		filler := strings.TrimSpace(strings.Repeat("spam ", 200))
		const maxLines = 200_000 // far more than any socket buffers hold
		dropped := false
		n := 0
		for !dropped {
			if n > maxLines {
				t.Fatalf("dave not dropped after %d lines of %d bytes", n, len(filler))
			}
			var batch []string
			for range 8 {
				n++
				batch = append(batch, fmt.Sprintf("%d %s", n, filler))
			}
			alice.write(strings.Join(batch, "\n") + "\n")
			for _, line := range batch {
				got := carol.next()
				if got == "* dave has left" && !dropped {
					dropped = true
					got = carol.next()
				}
				if got != "alice: "+line {
					t.Fatalf("carol read %.50q, want %.50q", got, "alice: "+line)
				}
			}
		}
		t.Logf("dave dropped after %d lines", n)
		alice.expect("* dave has left")
		s.log.waitLine(t, s.done, "dropping dave: too slow: outbox full")
		s.log.waitFor(t, s.done, "dave leaving", func(log string) bool {
			return strings.Contains(log, "\ndave left: ") && strings.Contains(log, "too slow: outbox full")
		})

		// The others chat on.
		carol.say("Where did dave go?")
		alice.expect("carol: Where did dave go?")
		alice.say("He stopped listening.")
		carol.expect("alice: He stopped listening.")
		s.join(t, "erin", "Hello, erin. Here with you: alice, carol.")
		alice.expect("* erin has joined")
		carol.expect("* erin has joined")

		// The server hung up on dave: what he has not read ends.
		dave.conn.SetReadDeadline(time.Now().Add(patience))
		if _, err := io.Copy(io.Discard, dave.conn); err != nil && !isReset(err) {
			t.Fatalf("dave's connection: %v", err)
		}
	})
}

// quit has c say /quit, and checks that the server says goodbye and that
// the others are told.
func (c *client) quit(others ...*client) {
	c.t.Helper()
	c.say("/quit")
	c.expect("Bye.")
	c.expectEnd()
	for _, o := range others {
		o.expect("* " + c.name + " has left")
	}
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), syscall.ECONNRESET.Error())
}

// Bad input: a line too long, a member who hangs up mid-line, a client
// that leaves before giving a name, and characters that would act on the
// others' terminals. In each test bob is in the room, and sees what the
// others see.
func startWithBob(t *testing.T) (*testServer, *client) {
	t.Helper()
	s := startServer(t, "", 16)
	return s, s.join(t, "bob", "Hello, bob. Nobody else is here yet.")
}

func TestLineTooLong(t *testing.T) {
	s, bob := startWithBob(t)
	alice := s.join(t, "alice", "Hello, alice. Here with you: bob.")
	bob.expect("* alice has joined")
	alice.write(strings.Repeat("x", 5000) + "\r\n")
	alice.expect("* Lines are at most 4096 bytes. Bye.")
	alice.expectEnd()
	bob.expect("* alice has left") // and no part of the line
	s.log.waitFor(t, s.done, "line too long", func(log string) bool {
		return strings.Contains(log, "\nalice left: ") && strings.Contains(log, "line too long\n")
	})
}

func TestLongestLine(t *testing.T) {
	s, bob := startWithBob(t)
	alice := s.join(t, "alice", "Hello, alice. Here with you: bob.")
	bob.expect("* alice has joined")
	long := strings.Repeat("y", 4096)
	alice.say(long)
	bob.expect("alice: " + long)
	alice.quit(bob)
}

func TestNameTooLong(t *testing.T) {
	s, bob := startWithBob(t)
	c := s.dial(t)
	c.expect(askName)
	c.write(strings.Repeat("n", 10000) + "\n")
	c.expect("* Lines are at most 4096 bytes. Bye.")
	c.expectEnd()
	// Nobody joined, nobody left: bob's next line is erin's arrival.
	s.join(t, "erin", "Hello, erin. Here with you: bob.")
	bob.expect("* erin has joined")
}

func TestHangUpMidLine(t *testing.T) {
	s, bob := startWithBob(t)
	alice := s.join(t, "alice", "Hello, alice. Here with you: bob.")
	bob.expect("* alice has joined")
	alice.say("a whole line")
	bob.expect("alice: a whole line")
	alice.write("half a li")
	alice.conn.CloseWrite()
	bob.expect("* alice has left") // and not the half line
	alice.expectEnd()
}

func TestHangUpBeforeName(t *testing.T) {
	s, bob := startWithBob(t)
	c := s.dial(t)
	c.expect(askName)
	c.write("carol") // no line ending
	c.conn.Close()
	s.log.waitLine(t, s.done, c.conn.LocalAddr().String()+" left: EOF")
	s.join(t, "erin", "Hello, erin. Here with you: bob.")
	bob.expect("* erin has joined")
}

// TestSilent: a client that connects and says nothing at all holds up no
// one.
func TestSilent(t *testing.T) {
	s, bob := startWithBob(t)
	s.dialQuiet(t)
	frank := s.join(t, "frank", "Hello, frank. Here with you: bob.")
	bob.expect("* frank has joined")
	frank.say("hi")
	bob.expect("frank: hi")
}

func TestControlCharacters(t *testing.T) {
	s, bob := startWithBob(t)
	alice := s.join(t, "alice", "Hello, alice. Here with you: bob.")
	bob.expect("* alice has joined")
	alice.say("\x1b[2Jcleared\a your \x00screen\x7f\u0085 \xff\xfe!")
	bob.expect("alice: [2Jcleared your screen \ufffd\ufffd!")
	alice.say("a\ttab and a bare\rCR")
	bob.expect("alice: a tab and a bareCR")
}

// TestShutdown: stopping the server, as SIGINT does, ends every task,
// whatever it is doing, and serve returns nil (startServer checks), with
// no goroutine left (TestMain checks).
func TestShutdown(t *testing.T) {
	// Outboxes big enough that dave is not dropped: his task is stuck
	// writing to him when the server stops.
	s := startServer(t, "", 10_000)
	alice := s.join(t, "alice", "Hello, alice. Nobody else is here yet.")
	carol := s.join(t, "carol", "Hello, carol. Here with you: alice.")
	alice.expect("* carol has joined")
	dave := s.dialQuiet(t)
	daveIn := newLineReader(t, dave)
	daveIn.expect(askName)
	dave.say("dave")
	daveIn.expect("Hello, dave. Here with you: alice, carol.")
	alice.expect("* dave has joined")
	carol.expect("* dave has joined")
	carol.write("half a line") // carol's task has part of a line
	s.dial(t).expect(askName)  // one task asks for a name
	// dave reads nothing: his task writes to him as long as his socket
	// takes it, then waits for room. 8 MB is more than loopback sockets
	// hold, and much less than his outbox.
	big := strings.Repeat("z", 4000)
	for i := range 2000 {
		alice.say(fmt.Sprint(i, big))
		carol.expect(fmt.Sprint("alice: ", i, big))
	}
}

// lineReader reads the lines of a client that has no reading goroutine,
// only as far as told to.
type lineReader struct {
	c *client
	r *bufio.Reader
}

func newLineReader(t *testing.T, c *client) *lineReader {
	return &lineReader{c: c, r: bufio.NewReader(c.conn)}
}

func (l *lineReader) expect(want string) {
	l.c.t.Helper()
	l.c.conn.SetReadDeadline(time.Now().Add(patience))
	defer l.c.conn.SetReadDeadline(time.Time{})
	line, err := l.r.ReadString('\n')
	if err != nil {
		l.c.t.Fatal(err)
	}
	if got := strings.TrimSuffix(line, "\r\n"); got != want {
		l.c.t.Fatalf("read %q, want %q", got, want)
	}
}
