package main

import (
	"strconv"
	"strings"
	"testing"
)

// TestOneReadPerRequest counts the server's read system calls, from the
// kernel's own count (syscr in /proc/PID/io), while many connections each
// send one request at a time: after a short read a handler waits for
// readiness instead of reading again into EAGAIN, so a request costs one
// read. The count, not a clock, is what is checked.
func TestOneReadPerRequest(t *testing.T) {
	needProc(t)
	if testing.Short() {
		t.Skip("starts the server and 200 clients")
	}
	forEachPoller(t, func(t *testing.T, backend string) {
		s := startServer(t, config{poller: backend, quiet: true})
		const conns, rounds = 200, 20
		clients := make([]*client, conns)
		for i := range clients {
			clients[i] = dial(t, s.addr)
			if err := clients[i].ask("SPAM 1\n", 1); err != nil { // accepted and served once
				t.Fatal(err)
			}
		}
		before := readCount(t, s.pid())
		// Every connection has a request in flight at once, as under load,
		// so the server sees many ready connections per wait.
		for range rounds {
			for _, c := range clients {
				if _, err := c.conn.Write([]byte("SPAM 1\n")); err != nil {
					t.Fatal(err)
				}
			}
			for _, c := range clients {
				if err := c.expect(reply(1)); err != nil {
					t.Fatal(err)
				}
			}
		}
		reads := readCount(t, s.pid()) - before
		perRequest := float64(reads) / float64(conns*rounds)
		t.Logf("%s: %d reads for %d requests: %.3f a request", backend, reads, conns*rounds, perRequest)
		if perRequest > 1.05 {
			t.Errorf("%.3f reads a request, more than 1.05", perRequest)
		}
	})
}

// readCount returns the read system calls the process has made so far.
func readCount(t *testing.T, pid int) int64 {
	t.Helper()
	for _, line := range strings.Split(readProc(t, pid, "io"), "\n") {
		if v, ok := strings.CutPrefix(line, "syscr: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no syscr in /proc/PID/io")
	return 0
}
