// Command netspam is the spam server written the ordinary Go way: a
// goroutine per connection, with net and bufio. It is the peer that
// cmd/spamserver is measured against (see bench/run.sh), so it speaks the
// same protocol byte for byte: the same replies, the same 400 for a bad
// request, the same 4096-byte line limit, and it flushes its replies when it
// has read every request that has arrived, as lwtask's Conn does.
//
//	netspam [-addr HOST:PORT] [-quiet]
//
// SIGINT or SIGTERM stops it with exit status 0; bad flags exit with status
// 2.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("netspam", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", ":4200", "address to listen on, HOST:PORT")
	quiet := fs.Bool("quiet", false, "do not log accepted connections")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	logger := log.New(stderr, "", 0)
	if fs.NArg() > 0 {
		logger.Printf("netspam: unexpected argument %q", fs.Arg(0))
		return 2
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		logger.Print("netspam: ", err)
		return 1
	}
	// Even with -quiet, as cmd/spamserver: with -addr HOST:0 this is how
	// the port chosen is found.
	logger.Print("Listening on ", l.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s := newServer(logger, *quiet)
	go func() {
		<-ctx.Done()
		s.Close(l)
	}()
	if err := s.Serve(l); err != nil {
		logger.Print("netspam: ", err)
		return 1
	}
	return 0
}

// server keeps its connections so that Close can end their goroutines.
type server struct {
	log   *log.Logger
	quiet bool

	mu      sync.Mutex
	closing bool
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
}

func newServer(logger *log.Logger, quiet bool) *server {
	return &server{log: logger, quiet: quiet, conns: make(map[net.Conn]struct{})}
}

// Serve accepts connections until l is closed, serving each on its own
// goroutine. After Close it returns nil, once every connection has ended.
func (s *server) Serve(l net.Listener) error {
	defer s.wg.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			if s.isClosing() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		if !s.quiet {
			s.log.Print("Listener: Accepted connection from ", c.RemoteAddr())
		}
		if !s.track(c) {
			c.Close()
			return nil
		}
		go s.handle(c)
	}
}

// Close stops l and every connection.
func (s *server) Close(l net.Listener) {
	s.mu.Lock()
	s.closing = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	l.Close()
}

func (s *server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *server) forget(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.Close()
	s.wg.Done()
}

// handle serves one client's requests until it goes away. Replies gather in
// the writer until every request read so far is answered, so pipelined
// requests are answered in one write.
func (s *server) handle(c net.Conn) {
	defer s.forget(c)
	r := bufio.NewReaderSize(c, maxLine+2) // +2: room for "\r\n"
	w := bufio.NewWriter(c)
	for {
		line, err := readLine(r)
		if errors.Is(err, errLineTooLong) {
			w.WriteString(badRequest)
		}
		if err == nil {
			err = serve(w, line)
		}
		if err == nil && r.Buffered() == 0 {
			err = w.Flush()
		}
		if err != nil {
			w.Flush() // the replies to requests before the end
			s.logError(err)
			return
		}
	}
}

// logError logs why a connection ended, unless the client just left or the
// server is closing.
func (s *server) logError(err error) {
	if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed) {
		return
	}
	s.log.Print("Handler: ", err)
}
