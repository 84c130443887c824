// Command spamserver is the essay's spam server on lwtask: one task
// listens, and one task per connection reads requests and serves spam.
//
//	spamserver [-addr HOST:PORT] [-poller epoll|poll|select] [-edge]
//	           [-style generator|step] [-loops N] [-quiet]
//	           [-trace FILE.json|FILE.html] [-trace-events N] [-v] [-expvar ADDR]
//
// The handler is written in generator style by default, as the essay's
// is; -style step serves each connection with a raw step state machine
// instead (no coroutine per connection). -loops N runs N event loops, each
// on its own thread, sharing the connections.
//
// Try it with telnet localhost 4200 and type SPAM 3. It logs the address
// it listens on, then every connection it accepts unless -quiet. Logging
// never holds up serving: lines that standard error cannot take in time are
// dropped and counted. SIGINT or SIGTERM stops it with exit status 0; bad
// flags exit with status 2.
//
// To see what the tasks do: kill -USR1 prints each task, its state, what
// it waits for and for how long, to standard error, without stopping the
// server. -trace records the last -trace-events events of the scheduling
// and writes them as a timeline when the server exits and on each SIGUSR1
// (with -loops N, one file per loop, FILE.loopI.EXT). -v prints the event
// loops' metrics at exit, and -expvar serves them at /debug/vars.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/lwtask/lwtask"
	"github.com/lwtask/lwtask/fdqueue/poller"
)

func main() {
	// Go kills a program that writes to a broken pipe on standard output or
	// error, unless SIGPIPE is ignored. The server's standard error may be
	// such a pipe (spamserver 2>&1 | head -1, once head has its line): that
	// must cost log lines, not the service.
	signal.Ignore(syscall.SIGPIPE)
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("spamserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", ":4200", "address to listen on, HOST:PORT")
	backend := fs.String("poller", "", "poller backend: "+strings.Join(poller.Names(), ", ")+" (default: the first)")
	quiet := fs.Bool("quiet", false, "do not log accepted connections")
	edge := fs.Bool("edge", false, "edge-triggered polling, where the backend has it (epoll, kqueue)")
	style := fs.String("style", "generator", "how connections are served: generator (a task per connection, in the essay's style) or step (a raw step state machine per connection)")
	loops := fs.Int("loops", 1, "event loops, each on its own thread")
	obs := &observer{}
	fs.StringVar(&obs.trace, "trace", "", "record the last events of the scheduling and write them at exit and on SIGUSR1, as a Chrome trace (FILE.json) or a web page (FILE.html)")
	fs.IntVar(&obs.events, "trace-events", 1<<18, "how many of the last events -trace keeps")
	fs.BoolVar(&obs.verbose, "v", false, "print the event loops' metrics at exit")
	fs.StringVar(&obs.expvar, "expvar", "", "serve the metrics, with expvar, at http://`ADDR`/debug/vars (with expvar's own: the command line and the Go runtime's memory statistics; bind it to a private address)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	out := newLogWriter(stderr)
	defer out.Close()
	logger := log.New(out, "", 0)
	switch {
	case fs.NArg() > 0:
		logger.Printf("spamserver: unexpected argument %q", fs.Arg(0))
		return 2
	case *style != "generator" && *style != "step":
		logger.Printf("spamserver: -style %q: want generator or step", *style)
		return 2
	case *loops < 1:
		logger.Printf("spamserver: -loops %d: want at least 1", *loops)
		return 2
	}
	// The task dumps go through the log's writer too: written straight to
	// a standard error nobody reads, one would block for good, and the
	// server, which waits for a dump under way before it exits, with it.
	obs.log, obs.stderr = logger, out
	if err := obs.check(); err != nil {
		logger.Print("spamserver: ", err)
		return 2
	}
	opts := []lwtask.Option{lwtask.WithPoller(*backend)}
	if *edge {
		opts = append(opts, lwtask.WithEdgeTriggered())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s := &server{log: logger, quiet: *quiet, step: *style == "step", obs: obs}
	if *loops > 1 {
		return s.runLoops(ctx, *loops, *addr, opts)
	}
	rt, err := lwtask.New(opts...)
	if err != nil {
		logger.Print("spamserver: ", err)
		return 2
	}
	defer rt.Close()
	l, err := rt.Listen("tcp", *addr)
	if err != nil {
		logger.Print("spamserver: ", err)
		return 1
	}
	defer l.Close()
	// Even with -quiet: with -addr HOST:0 this is how the port chosen is
	// found. Once it is out, SIGINT and SIGTERM stop the server cleanly.
	logger.Print("Listening on ", l.Addr())
	s.rt = rt
	rt.SetPanicHandler(func(p *lwtask.PanicError) { logger.Print("spamserver: ", p) })
	if s.step {
		l.OnTemporaryError = s.temporaryError
		rt.ServeSteps(l, s.newStepHandler)
	} else {
		rt.Go("listener", func(t *lwtask.Task) { s.listen(t, l) })
	}
	if err := obs.start([]*lwtask.Runtime{rt}); err != nil {
		logger.Print("spamserver: ", err)
		return 1
	}
	defer obs.finish()
	if err := rt.RunContext(ctx); err != nil {
		logger.Print("spamserver: ", err)
		return 1
	}
	return 0
}

// runLoops serves with n event loops (-loops).
func (s *server) runLoops(ctx context.Context, n int, addr string, opts []lwtask.Option) int {
	loops, err := lwtask.NewLoops(n, opts...)
	if err != nil {
		s.log.Print("spamserver: ", err)
		return 2
	}
	defer loops.Close()
	loops.OnTemporaryError = s.temporaryError
	loops.SetPanicHandler(func(p *lwtask.PanicError) { s.log.Print("spamserver: ", p) })
	var bound net.Addr
	if s.step {
		bound, err = loops.ListenAndServeSteps("tcp", addr, s.newStepHandler)
	} else {
		bound, err = loops.ListenAndServe("tcp", addr, func(t *lwtask.Task, c *lwtask.Conn) {
			s.accepted(c)
			s.handle(t, c)
		})
	}
	if err != nil {
		s.log.Print("spamserver: ", err)
		return 1
	}
	s.log.Print("Listening on ", bound)
	rts := make([]*lwtask.Runtime, loops.Len())
	for i := range rts {
		rts[i] = loops.Loop(i)
	}
	if err := s.obs.start(rts); err != nil {
		s.log.Print("spamserver: ", err)
		return 1
	}
	defer s.obs.finish()
	if err := loops.RunContext(ctx); err != nil {
		s.log.Print("spamserver: ", err)
		return 1
	}
	return 0
}

type server struct {
	rt    *lwtask.Runtime
	log   *log.Logger
	quiet bool
	step  bool // -style step
	obs   *observer
}

// newStepHandler makes the handler of a connection, for -style step.
func (s *server) newStepHandler(c *lwtask.Conn) lwtask.StepHandler {
	s.accepted(c)
	return &stepHandler{}
}

// accepted logs an accepted connection, unless -quiet.
func (s *server) accepted(c *lwtask.Conn) {
	if !s.quiet {
		s.log.Print("Listener: Accepted connection from ", c.RemoteAddr())
	}
}

func (s *server) temporaryError(err error, retryIn time.Duration) {
	s.log.Printf("Listener: %v; retrying in %v", err, retryIn)
}

// listen is the essay's listener: accept connections and spawn a handler
// task for each.
func (s *server) listen(t *lwtask.Task, l *lwtask.Listener) {
	l.OnTemporaryError = s.temporaryError
	for {
		c, err := l.Accept(t)
		if err != nil {
			s.log.Print("Listener: ", err)
			return
		}
		s.accepted(c)
		s.rt.Go(fmt.Sprint("handler ", c.RemoteAddr()), func(t *lwtask.Task) { s.handle(t, c) })
	}
}

// handle is the essay's handler: serve one client's requests until it goes
// away. Replies are gathered in the connection's buffer, which goes out
// before the handler waits for the next request, so pipelined requests are
// answered in one write and a reply never waits for a delayed ACK.
func (s *server) handle(t *lwtask.Task, c *lwtask.Conn) {
	defer c.Close()
	for {
		line, err := c.ReadLine(t)
		if errors.Is(err, lwtask.ErrLineTooLong) {
			refuse(t, c)
			return // the client was answered: nothing went wrong to log
		}
		if err == nil {
			err = serve(t, c, line)
		}
		if err != nil {
			c.Flush(t) // the replies to requests before the end
			s.logError(err)
			return
		}
	}
}

// Limits of the lingering close after a line too long.
const (
	lingerTime  = time.Second
	lingerBytes = 1 << 20
)

// refuse answers a line too long and ends the connection, since the next
// request cannot be found. Closing with the rest of the line unread would
// make the kernel reset the connection, and a reset can overtake the reply
// on its way to the client: so the server shuts down its side, then reads
// and discards what the client still sends, for a while, before closing.
func refuse(t *lwtask.Task, c *lwtask.Conn) {
	c.WriteString(t, badRequest)
	if c.CloseWrite(t) != nil {
		return
	}
	c.SetReadDeadline(time.Now().Add(lingerTime))
	io.Copy(io.Discard, io.LimitReader(c.For(t), lingerBytes))
}

// serve answers one request.
func serve(t *lwtask.Task, c *lwtask.Conn, line []byte) error {
	n, ok := parseRequest(line)
	if !ok {
		_, err := c.WriteString(t, badRequest)
		return err
	}
	if _, err := c.WriteString(t, spamFollows); err != nil {
		return err
	}
	for range n {
		if _, err := c.WriteString(t, spamLine); err != nil {
			return err
		}
	}
	return nil
}

// logError logs why a connection ended, unless the client just left.
func (s *server) logError(err error) {
	if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return
	}
	s.log.Print("Handler: ", err)
}
