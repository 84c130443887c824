package lwtask_test

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/lwtask/lwtask"
	"github.com/lwtask/lwtask/task"
)

// BenchmarkStarvingReader measures the cooperation budget: a task reads a
// TCP connection that a peer floods, in 512-byte reads with work after each
// (about 20,000 additions), while another task sleeps 10 ms, b.N times. A
// read that finds data never waits, so without the budget the reader never
// gives up its turn and the sleeper never wakes. The figure is
// taken/asked: how long each sleep took, over the 10 ms asked (at most 2 is
// the target). "reads/s" is the reader's work done meanwhile.
//
// The peer is the same program on goroutines (net.Conn and time.Sleep),
// measured in the same run: go test -run '^$' -bench StarvingReader .
func BenchmarkStarvingReader(b *testing.B) {
	b.Run("lwtask", func(b *testing.B) {
		rt, err := lwtask.New()
		if err != nil {
			b.Fatal(err)
		}
		defer rt.Close()
		server, client := loopbackPair(b)
		defer client.Close()
		stop := flood(client)
		defer stop()
		conn, err := rt.Adopt(server.(*net.TCPConn), "flooded")
		server.Close()
		if err != nil {
			b.Fatal(err)
		}
		var reads int
		rt.Go("reader", func(t *lwtask.Task) {
			defer conn.Close()
			buf := make([]byte, 512)
			for {
				if _, err := conn.Read(t, buf); err != nil {
					return
				}
				work()
				reads++
			}
		})
		var elapsed time.Duration
		rt.Go("sleeper", func(t *lwtask.Task) {
			defer rt.Stop()
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if err := t.Sleep(sleepAsked); err != nil {
					b.Error(err)
				}
			}
			elapsed = time.Since(start)
			b.StopTimer()
		})
		if err := rt.Run(); err != nil {
			b.Fatal(err)
		}
		reportFairness(b, elapsed, reads)
	})
	b.Run("goroutines", func(b *testing.B) {
		server, client := loopbackPair(b)
		defer client.Close()
		stop := flood(client)
		defer stop()
		var reads int
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 512)
			for {
				if _, err := server.Read(buf); err != nil {
					return
				}
				work()
				reads++
			}
		}()
		b.ResetTimer()
		start := time.Now()
		for range b.N {
			time.Sleep(sleepAsked)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		server.Close()
		wg.Wait()
		reportFairness(b, elapsed, reads)
	})
}

const sleepAsked = 10 * time.Millisecond

func reportFairness(b *testing.B, elapsed time.Duration, reads int) {
	b.ReportMetric(float64(elapsed)/float64(time.Duration(b.N)*sleepAsked), "taken/asked")
	b.ReportMetric(float64(reads)/elapsed.Seconds(), "reads/s")
}

// sink keeps work's additions from being optimized away.
var sink int

// work is the reader's work on each 512-byte read: about 20,000 additions.
func work() {
	s := sink
	for i := range 20000 {
		s += i ^ s>>3
	}
	sink = s
}

// loopbackPair returns both ends of a TCP connection over loopback.
func loopbackPair(b *testing.B) (server, client net.Conn) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	client, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	server, err = l.Accept()
	if err != nil {
		b.Fatal(err)
	}
	return server, client
}

// flood writes to c as fast as it takes it, on a goroutine of its own,
// until stop is called.
func flood(c net.Conn) (stop func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}()
	return func() {
		c.SetWriteDeadline(time.Now())
		<-done
	}
}

// TestReadsShareTurns is the starving reader as a test: a task whose reads
// all find data still gives the others a turn after every task.Budget of
// them. The pipe holds all the reader wants, so no read ever waits.
func TestReadsShareTurns(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		rd, wr := newPipe(t, rt)
		const total = 4096
		var readsPerTurn []int
		reads, done := 0, false
		rt.Go("filler", func(tk *lwtask.Task) {
			if _, err := wr.Write(tk, make([]byte, total)); err != nil {
				t.Error(err)
			}
			rt.Go("reader", func(tk *lwtask.Task) {
				defer func() { done = true }()
				buf := make([]byte, 1)
				for range total {
					if _, err := rd.Read(tk, buf); err != nil {
						t.Error(err)
						return
					}
					reads++
				}
			})
			rt.Go("counter", func(tk *lwtask.Task) {
				for last := 0; !done; tk.Yield() {
					readsPerTurn = append(readsPerTurn, reads-last)
					last = reads
				}
			})
		})
		runAll(t, rt)
		if len(readsPerTurn) < total/task.Budget-1 {
			t.Fatalf("the counter had %d turns while the reader read %d bytes one at a time", len(readsPerTurn), total)
		}
		for i, n := range readsPerTurn {
			if n > task.Budget {
				t.Fatalf("turn %d: the reader read %d times, more than the budget of %d", i, n, task.Budget)
			}
		}
	})
}
