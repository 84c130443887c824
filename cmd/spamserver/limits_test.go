package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lwtask/lwtask/fdqueue/poller"
)

// TestHugeReply streams part of an endless reply: the server must not
// gather it in memory, must park rather than spin while the client does not
// read, and must stop once the client has gone.
func TestHugeReply(t *testing.T) {
	needProc(t)
	forEachPoller(t, func(t *testing.T, backend string) {
		s := startServer(t, config{poller: backend, quiet: true})
		other := dial(t, s.addr)
		if err := other.ask("SPAM 1000\n", 1000); err != nil {
			t.Fatal(err)
		}
		fds, memory := len(openFds(t, s.pid())), rss(t, s.pid())

		c := dial(t, s.addr)
		if err := c.ask("SPAM 1000000000\n", 1); err != nil {
			t.Fatal(err)
		}
		const streamed = 64 << 20
		if err := readSpam(c, streamed); err != nil {
			t.Fatal(err)
		}
		if grown := rss(t, s.pid()) - memory; grown > streamed/8 {
			t.Errorf("server grew by %d KiB while streaming %d KiB", grown>>10, streamed>>10)
		}

		assertIdle(t, s, 300*time.Millisecond, "while the client does not read")
		if err := other.ask("SPAM 3\n", 3); err != nil {
			t.Fatal(err)
		}

		c.conn.Close()
		assertIdle(t, s, 300*time.Millisecond, "after the client went away")
		waitUntil(t, "the server closes the connection", func() bool { return len(openFds(t, s.pid())) == fds })
		if err := other.ask("SPAM 2\n", 2); err != nil {
			t.Fatal(err)
		}
	})
}

// readSpam reads n bytes of spam lines, from the start of a line.
func readSpam(c *client, n int) error {
	const chunk = 64 << 10
	pattern := strings.Repeat(spamLine, chunk/len(spamLine)+2)
	buf := make([]byte, chunk)
	for pos := 0; pos < n; {
		m, err := c.r.Read(buf[:min(chunk, n-pos)])
		if err != nil {
			return err
		}
		at := pos % len(spamLine)
		if want := pattern[at : at+m]; string(buf[:m]) != want {
			return fmt.Errorf("at byte %d of the spam: got %q, want %q", pos, abbrev(buf[:m]), abbrev([]byte(want)))
		}
		pos += m
	}
	return nil
}

// TestSelectDescriptorLimit: select cannot wait on descriptors of 1024 and
// above. A connection that gets one is closed, with the reason logged, and
// every other connection goes on being served.
//
// The server inherits descriptors 3 to 1023, but for a gap at the bottom
// where its own descriptors go and then the first connections': once the
// gap is full, connections get descriptors of 1024 and above.
func TestSelectDescriptorLimit(t *testing.T) {
	needProc(t)
	if !slices.Contains(poller.Names(), "select") {
		t.Skip("no select backend here")
	}
	const fdSetSize, gap = 1024, 16
	needFds(t, fdSetSize+gap+100) // the server inherits the limit
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	inherited := make([]*os.File, fdSetSize-3)
	for i := gap; i < len(inherited); i++ {
		inherited[i] = devNull
	}
	s := startServer(t, config{poller: "select", extraFiles: inherited})
	freeLow := func() int {
		free := fdSetSize
		for _, fd := range openFds(t, s.pid()) {
			if fd < fdSetSize {
				free--
			}
		}
		return free
	}

	var low []*client
	for freeLow() > 0 {
		if len(low) == gap {
			t.Fatalf("%d connections and descriptors below %d still free", gap, fdSetSize)
		}
		c := dial(t, s.addr)
		if err := c.ask("SPAM 1\n", 1); err != nil {
			t.Fatal(err)
		}
		low = append(low, c)
	}
	if len(low) == 0 {
		t.Fatal("the server's own descriptors filled the gap")
	}

	for range 2 {
		high := dial(t, s.addr)
		if err := high.expectEnd(); err != nil {
			t.Fatalf("connection with a descriptor >= %d: %v", fdSetSize, err)
		}
		s.waitLog(t, "why it closed "+high.localAddr(), func(line string) bool {
			return strings.Contains(line, high.localAddr()) && strings.Contains(line, "FD_SETSIZE")
		})
	}

	for _, c := range low {
		if err := c.ask("SPAM 2\n", 2); err != nil {
			t.Fatal(err)
		}
	}
	low[0].conn.Close()
	waitUntil(t, "the server closes a connection", func() bool { return freeLow() == 1 })
	c := dial(t, s.addr)
	if err := c.ask("SPAM 3\n", 3); err != nil {
		t.Fatal(err)
	}
}

// TestOutOfDescriptors: when accept fails for want of descriptors, the
// server backs off rather than spinning or giving up, goes on serving the
// connections it has, and accepts again once descriptors are free.
func TestOutOfDescriptors(t *testing.T) {
	needProc(t)
	forEachPoller(t, func(t *testing.T, backend string) {
		const limit = 32
		s := startServer(t, config{poller: backend, fdLimit: limit})
		first := dial(t, s.addr)
		if err := first.ask("SPAM 1\n", 1); err != nil {
			t.Fatal(err)
		}
		crowd := make([]*client, limit)
		for i := range crowd {
			crowd[i] = dial(t, s.addr)
		}
		s.waitLog(t, "the accept back-off", func(line string) bool {
			return strings.Contains(line, "too many open files") && strings.Contains(line, "retrying in")
		})
		if err := first.ask("SPAM 2\n", 2); err != nil {
			t.Fatal(err)
		}
		assertIdle(t, s, time.Second, "out of descriptors")

		for _, c := range crowd {
			c.conn.Close()
		}
		late := dial(t, s.addr)
		if err := late.ask("SPAM 3\n", 3); err != nil {
			t.Fatal(err)
		}
		if err := first.ask("SPAM 4\n", 4); err != nil {
			t.Fatal(err)
		}
	})
}
