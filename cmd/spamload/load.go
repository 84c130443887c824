package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The replies the client expects, as in the essay.
const (
	spamFollows = "100 SPAM FOLLOWS\n"
	spamLine    = "spam glorious spam\n"
)

// Phases of a load run. Replies count only while measuring, so that
// connection set-up, warm-up and shutdown stay out of the numbers.
const (
	warming int32 = iota
	measuring
	stopped
)

// loadRun is what the connections' goroutines share.
type loadRun struct {
	request []byte
	epoch   time.Time
	phase   atomic.Int32
}

func (ld *loadRun) clock() time.Duration { return time.Since(ld.epoch) }

// load runs the load test and prints its results.
func load(cfg config, stdout io.Writer, logger *log.Logger) error {
	conns, err := dialAll(cfg.addr, cfg.conns+cfg.probe)
	if err != nil {
		return err
	}
	defer closeAll(conns)
	ld := &loadRun{request: []byte("SPAM " + strconv.Itoa(cfg.n) + "\n"), epoch: time.Now()}
	workers := make([]*worker, len(conns))
	probeCfg := cfg
	probeCfg.depth = 1
	var wg sync.WaitGroup
	for i, c := range conns {
		if i < cfg.conns {
			workers[i] = newWorker(c, cfg)
		} else {
			workers[i] = newWorker(c, probeCfg)
		}
		wg.Add(1)
		go func(w *worker) {
			defer wg.Done()
			w.run(ld)
		}(workers[i])
	}
	time.Sleep(cfg.warmup)
	m, err := ld.measure(cfg)
	for _, c := range conns {
		c.SetDeadline(time.Now()) // wake the readers
	}
	wg.Wait()
	if err != nil {
		return err
	}
	return report(stdout, logger, cfg, m, workers[:cfg.conns], workers[cfg.conns:])
}

// measurement is what the measured interval took, on the clock and, if the
// server's PID is known, in the server's CPU time.
type measurement struct {
	elapsed   time.Duration
	user, sys time.Duration
	client    time.Duration // this process
	others    time.Duration // every other process on the machine: noise
	haveCPU   bool
	rssKB     int64
}

// measure opens the measured interval, lets it run for cfg.duration and
// closes it, reading the server's CPU time at both ends.
func (ld *loadRun) measure(cfg config) (measurement, error) {
	var m measurement
	var before, beforeSelf, beforeAll cpuTimes
	if cfg.pid > 0 {
		var err error
		if before, err = readCPU(cfg.pid); err != nil {
			ld.phase.Store(stopped)
			return m, err
		}
		beforeSelf, beforeAll = selfCPU(), machineCPU()
	}
	start := time.Now()
	ld.phase.Store(measuring)
	time.Sleep(cfg.duration)
	ld.phase.Store(stopped)
	m.elapsed = time.Since(start)
	if cfg.pid > 0 {
		after, err := readCPU(cfg.pid)
		if err != nil {
			return m, err
		}
		self, all := selfCPU().total()-beforeSelf.total(), machineCPU().total()-beforeAll.total()
		m.user, m.sys, m.haveCPU = after.user-before.user, after.sys-before.sys, true
		m.client = self
		m.others = max(0, all-self-(m.user+m.sys))
		m.rssKB, _ = readRSS(cfg.pid)
	}
	return m, nil
}

// worker drives one connection: it keeps depth requests in flight, sending
// a new one as each reply ends, and writes whenever it has read all the
// replies that have arrived.
type worker struct {
	c         net.Conn
	r         *bufio.Reader
	w         *bufio.Writer
	n         int
	sent      []time.Duration // when the requests in flight were written, oldest first, as a ring
	head      int
	inflight  int
	unflushed int // requests buffered but not yet written
	hist      histogram
	done      int64 // replies in the measured interval
	err       error
}

func newWorker(c net.Conn, cfg config) *worker {
	replySize := len(spamFollows) + cfg.n*len(spamLine)
	// The writer holds a whole window of requests, so that none goes out
	// before flush notes when it went: a reply to a request not yet
	// counted in flight would break the ring of send times.
	requestSize := len("SPAM \n") + len(strconv.Itoa(cfg.n))
	return &worker{
		c:    c,
		r:    bufio.NewReaderSize(c, min(max(4096, cfg.depth*replySize), 64<<10)),
		w:    bufio.NewWriterSize(c, max(4096, cfg.depth*requestSize)),
		n:    cfg.n,
		sent: make([]time.Duration, cfg.depth),
	}
}

func (w *worker) run(ld *loadRun) {
	for range len(w.sent) {
		w.w.Write(ld.request)
	}
	w.unflushed = len(w.sent)
	err := w.flush(ld)
	for err == nil {
		if err = w.readReply(); err != nil {
			break
		}
		latency := ld.clock() - w.pop()
		switch ld.phase.Load() {
		case measuring:
			w.hist.add(latency)
			w.done++
		case stopped:
			return
		}
		w.w.Write(ld.request)
		w.unflushed++
		if w.r.Buffered() == 0 {
			err = w.flush(ld)
		}
	}
	if ld.phase.Load() != stopped {
		w.err = err
	}
}

// flush writes the buffered requests and notes when they went.
func (w *worker) flush(ld *loadRun) error {
	if err := w.w.Flush(); err != nil {
		return err
	}
	now := ld.clock()
	for ; w.unflushed > 0; w.unflushed-- {
		w.sent[(w.head+w.inflight)%len(w.sent)] = now
		w.inflight++
	}
	return nil
}

func (w *worker) pop() time.Duration {
	t := w.sent[w.head]
	w.head = (w.head + 1) % len(w.sent)
	w.inflight--
	return t
}

// readReply reads one reply and checks it, line by line.
func (w *worker) readReply() error {
	if err := w.expect(spamFollows); err != nil {
		return err
	}
	for range w.n {
		if err := w.expect(spamLine); err != nil {
			return err
		}
	}
	return nil
}

func (w *worker) expect(want string) error {
	line, err := w.r.ReadSlice('\n')
	if err == io.EOF && len(line) > 0 {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return err
	}
	if string(line) != want {
		return fmt.Errorf("got %q, want %q", line, want)
	}
	return nil
}

// report prints the results of a load run.
func report(out io.Writer, logger *log.Logger, cfg config, m measurement, workers, probes []*worker) error {
	var hist, probeHist histogram
	var requests, probed int64
	errs := 0
	for _, w := range probes {
		probeHist.merge(&w.hist)
		probed += w.done
	}
	for _, w := range workers {
		hist.merge(&w.hist)
		requests += w.done
	}
	for _, w := range append(workers[:len(workers):len(workers)], probes...) {
		if w.err != nil {
			if errs < 5 {
				logger.Print(w.c.LocalAddr(), ": ", w.err)
			}
			errs++
		}
	}
	secs := m.elapsed.Seconds()
	fmt.Fprintf(out, "connections: %d, SPAM %d, depth %d, %v measured after %v warm-up\n",
		cfg.conns, cfg.n, cfg.depth, cfg.duration, cfg.warmup)
	fmt.Fprintf(out, "requests: %d\n", requests)
	fmt.Fprintf(out, "requests/s: %.0f\n", float64(requests)/secs)
	fmt.Fprintf(out, "latency p50: %.1f µs\n", micros(hist.quantile(0.50)))
	fmt.Fprintf(out, "latency p99: %.1f µs\n", micros(hist.quantile(0.99)))
	fmt.Fprintf(out, "latency p99.9: %.1f µs\n", micros(hist.quantile(0.999)))
	if len(probes) > 0 {
		fmt.Fprintf(out, "probe requests: %d\n", probed)
		fmt.Fprintf(out, "probe latency p50: %.1f µs\n", micros(probeHist.quantile(0.50)))
		fmt.Fprintf(out, "probe latency p99: %.1f µs\n", micros(probeHist.quantile(0.99)))
	}
	fmt.Fprintf(out, "errors: %d\n", errs)
	if m.haveCPU && requests > 0 {
		fmt.Fprintf(out, "server CPU user: %.2f µs/request\n", micros(m.user)/float64(requests))
		fmt.Fprintf(out, "server CPU system: %.2f µs/request\n", micros(m.sys)/float64(requests))
		fmt.Fprintf(out, "server CPU busy: %.0f%%\n", 100*(m.user+m.sys).Seconds()/secs)
		fmt.Fprintf(out, "server RSS: %d KB\n", m.rssKB)
		fmt.Fprintf(out, "client CPU busy: %.0f%%\n", 100*m.client.Seconds()/secs)
		fmt.Fprintf(out, "other processes' CPU busy: %.0f%%\n", 100*m.others.Seconds()/secs)
	}
	if errs > 0 {
		return fmt.Errorf("%d of %d connections failed", errs, len(workers))
	}
	if requests == 0 {
		return errors.New("no replies in the measured interval")
	}
	return nil
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
