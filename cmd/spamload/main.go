// Command spamload is a load client for the spam protocol: it keeps -conns
// connections busy with "SPAM n" requests, -depth of them in flight on each,
// for -duration after a -warmup, and prints the requests per second, the
// 50th and 99th percentile latency (from writing a request to reading the
// last line of its reply) and the number of errors.
//
//	spamload [-addr HOST:PORT] [-conns N] [-n LINES] [-depth D]
//	         [-duration D] [-warmup D] [-pid PID] [-probe N]
//	spamload -idle N [-addr HOST:PORT] [-duration D] [-pid PID]
//
// With -pid, spamload also reads the server's CPU time from /proc over the
// measured interval and prints the user and system microseconds it spent
// per request; a client sharing a small machine with the server saturates
// before a good server does, and CPU per request still tells them apart.
//
// With -probe N it also keeps N connections that send one request at a time
// and reports their latency apart, as "probe latency": what a quiet client
// sees while the others load the server, e.g. beside one connection that
// pipelines as fast as it can (-conns 1 -depth 64). A fair server keeps it
// close to the latency of an idle one.
//
// With -idle N it opens N connections, makes one request on each so that
// the server has accepted and served them all, then holds them for
// -duration; with -pid it prints how much the server's resident memory
// grew per connection.
//
// The exit status is 1 if any request failed, 2 for bad flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type config struct {
	addr     string
	conns    int
	n        int
	depth    int
	duration time.Duration
	warmup   time.Duration
	idle     int
	pid      int
	probe    int
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg, ok := parseFlags(args, stderr)
	if !ok {
		return 2
	}
	logger := log.New(stderr, "spamload: ", 0)
	var err error
	if cfg.idle > 0 {
		err = holdIdle(cfg, stdout)
	} else {
		err = load(cfg, stdout, logger)
	}
	if err != nil {
		logger.Print(err)
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (config, bool) {
	var cfg config
	fs := flag.NewFlagSet("spamload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.addr, "addr", "localhost:4200", "server address, HOST:PORT")
	fs.IntVar(&cfg.conns, "conns", 1, "connections")
	fs.IntVar(&cfg.n, "n", 1, "lines of spam per request")
	fs.IntVar(&cfg.depth, "depth", 1, "requests in flight on each connection (pipelining)")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long to measure, or to hold idle connections")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "load before measuring")
	fs.IntVar(&cfg.idle, "idle", 0, "open this many `connections`, make one request on each and hold them")
	fs.IntVar(&cfg.pid, "pid", 0, "the server's process ID, to report its CPU time and memory from /proc")
	fs.IntVar(&cfg.probe, "probe", 0, "also keep this many `connections` with one request at a time in flight, and report their latency apart: what a quiet client sees beside the load")
	if err := fs.Parse(args); err != nil {
		return cfg, false
	}
	if err := cfg.check(fs.NArg()); err != nil {
		fmt.Fprintln(stderr, "spamload:", err)
		return cfg, false
	}
	return cfg, true
}

// Upper bounds for the flags: far beyond what one client can use, low
// enough that the buffers and slices they size can be made.
const (
	maxConns = 1 << 20 // -conns and -probe together, and -idle
	maxDepth = 1 << 16
)

func (cfg config) check(nargs int) error {
	switch {
	case nargs > 0:
		return errors.New("unexpected arguments")
	case cfg.conns < 1 || cfg.n < 1 || cfg.depth < 1:
		return errors.New("-conns, -n and -depth must be at least 1")
	case cfg.idle < 0 || cfg.duration < 0 || cfg.warmup < 0 || cfg.probe < 0:
		return errors.New("-idle, -probe, -duration and -warmup must not be negative")
	case cfg.depth > maxDepth:
		return fmt.Errorf("-depth must be at most %d", maxDepth)
	case cfg.conns > maxConns || cfg.probe > maxConns-cfg.conns: // no overflow: 1 <= conns <= maxConns
		return fmt.Errorf("-conns and -probe together must be at most %d", maxConns)
	case cfg.idle > maxConns:
		return fmt.Errorf("-idle must be at most %d", maxConns)
	case cfg.idle > 0 && cfg.probe > 0:
		return errors.New("-probe cannot be used with -idle")
	}
	return nil
}
