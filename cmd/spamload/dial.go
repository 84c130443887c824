package main

import (
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// dialers is how many connections are being made at once: enough to open
// ten thousand quickly, few enough not to overflow the server's accept
// queue while it is busy.
const dialers = 32

// dialAll opens n connections to addr, or none and an error.
func dialAll(addr string, n int) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	err := forEach(n, func(i int) error {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		conns[i] = c
		return err
	})
	if err != nil {
		closeAll(conns)
		return nil, err
	}
	return conns, nil
}

// closeAll closes the connections abortively, with a reset: a graceful
// close would leave each one in TIME_WAIT for a minute, and a few runs of
// ten thousand connections would exhaust the ephemeral ports.
func closeAll(conns []net.Conn) {
	for _, c := range conns {
		if c != nil {
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	}
}

// forEach calls f(0) to f(n-1) on a few goroutines and returns the first
// error.
func forEach(n int, f func(i int) error) error {
	var (
		mu    sync.Mutex
		next  int
		first error
		wg    sync.WaitGroup
	)
	claim := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next >= n || first != nil {
			return 0, false
		}
		next++
		return next - 1, true
	}
	for range min(dialers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, ok := claim(); ok; i, ok = claim() {
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// holdIdle opens cfg.idle connections, makes one request on each, and holds
// them for cfg.duration, reporting how the server's memory grew.
func holdIdle(cfg config, out io.Writer) error {
	var before int64
	if cfg.pid > 0 {
		var err error
		if before, err = readRSS(cfg.pid); err != nil {
			return err
		}
	}
	conns, err := dialAll(cfg.addr, cfg.idle)
	if err != nil {
		return err
	}
	defer closeAll(conns)
	if err := forEach(len(conns), func(i int) error { return ping(conns[i]) }); err != nil {
		return err
	}
	time.Sleep(cfg.duration)
	fmt.Fprintf(out, "idle connections: %d, held %v\n", len(conns), cfg.duration)
	if cfg.pid > 0 {
		after, err := readRSS(cfg.pid)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "server RSS before: %d KB\n", before)
		fmt.Fprintf(out, "server RSS after: %d KB\n", after)
		fmt.Fprintf(out, "server RSS per connection: %.2f KB\n", float64(after-before)/float64(len(conns)))
	}
	return nil
}

// ping makes one request of one line on c and checks the reply.
func ping(c net.Conn) error {
	if _, err := io.WriteString(c, "SPAM 1\n"); err != nil {
		return err
	}
	want := spamFollows + spamLine
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if string(got) != want {
		return fmt.Errorf("got %q, want %q", got, want)
	}
	return nil
}
