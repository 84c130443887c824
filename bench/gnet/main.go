// Command gnetspam is the spam server on gnet (github.com/panjf2000/gnet/v2),
// the event-loop library that lwtask's spam server is measured against in
// bench/run.sh. It speaks the protocol byte for byte as cmd/spamserver does
// (its tests hold it to spamserver's replies): "SPAM n" answered with "100
// SPAM FOLLOWS" and n lines of spam, anything else with "400 WE ONLY SERVE
// SPAM", lines of up to 4096 bytes, and the replies to the requests of one
// read gathered into one write.
//
//	gnetspam [-addr HOST:PORT] [-loops N] [-multicore] [-reuseport] [-quiet]
//
// -loops N runs N event loops (gnet.WithNumEventLoop). Without -reuseport,
// gnet accepts on a goroutine of its own and hands the connections round
// robin to the loops; with it, every loop has its own listening socket on
// the same port and accepts for itself, the kernel spreading the
// connections. -multicore without -loops runs a loop per CPU.
//
// It logs "Listening on HOST:PORT", with the port chosen when -addr has
// port 0, then every connection it accepts unless -quiet. SIGINT or SIGTERM
// stops it with exit status 0; bad flags exit with status 2, and an address
// it cannot listen on with status 1. Unlike cmd/spamserver, it stops, with
// status 1, when an accept fails for want of descriptors: gnet ends its
// engine on any error in an event loop.
//
// This is a module of its own so that gnet never becomes a dependency of
// lwtask's module.
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
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

// run serves until ctx is done.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("gnetspam", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", ":4200", "address to listen on, HOST:PORT")
	loops := fs.Int("loops", 1, "event loops (gnet.WithNumEventLoop)")
	multicore := fs.Bool("multicore", false, "without -loops: an event loop per CPU (gnet.WithMulticore)")
	reusePort := fs.Bool("reuseport", false, "a listening socket per event loop, with SO_REUSEPORT (gnet.WithReusePort)")
	quiet := fs.Bool("quiet", false, "do not log accepted connections")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	logger := log.New(stderr, "", 0)
	if fs.NArg() > 0 {
		logger.Printf("gnetspam: unexpected argument %q", fs.Arg(0))
		return 2
	}
	if *loops < 1 {
		logger.Printf("gnetspam: -loops %d: want at least 1", *loops)
		return 2
	}
	loopsSet := false
	fs.Visit(func(f *flag.Flag) { loopsSet = loopsSet || f.Name == "loops" })
	opts := []gnet.Option{
		gnet.WithLogger(gnetLogger{logger}),
		gnet.WithMulticore(*multicore),
		gnet.WithReusePort(*reusePort),
	}
	numLoops := *loops
	if *multicore && !loopsSet {
		numLoops = runtime.NumCPU() // what gnet does with no loop count
	} else {
		opts = append(opts, gnet.WithNumEventLoop(*loops))
	}

	listenAddr := *addr
	if *reusePort && numLoops > 1 {
		// With SO_REUSEPORT gnet opens each loop's listening socket apart,
		// on the address as given: with port 0 every loop would get a
		// port of its own, and the port logged would reach the first loop
		// only. So choose the port here. Another process could take it
		// between this Close and gnet's bind; then gnet fails to listen
		// and the server exits with status 1.
		var err error
		if listenAddr, err = choosePort(listenAddr); err != nil {
			logger.Print("gnetspam: ", err)
			return 1
		}
	}

	h := &handler{log: logger, quiet: *quiet, booted: make(chan gnet.Engine, 1)}
	done := make(chan struct{})
	var stopper sync.WaitGroup
	stopper.Add(1)
	go func() {
		defer stopper.Done()
		var eng gnet.Engine
		select {
		case eng = <-h.booted:
		case <-done:
			return
		}
		select {
		case <-ctx.Done():
		case <-done:
			return
		}
		// Stop waits for the engine to close every connection and loop,
		// looking every half second; done cuts that short once Run has
		// returned.
		stopCtx, cancel := context.WithCancel(context.Background())
		go func() {
			<-done
			cancel()
		}()
		eng.Stop(stopCtx)
	}()
	err := gnet.Run(h, "tcp://"+listenAddr, opts...)
	close(done)
	stopper.Wait()
	switch {
	case err != nil:
		logger.Print("gnetspam: ", err)
		return 1
	case h.bootErr != nil:
		logger.Print("gnetspam: ", h.bootErr)
		return 1
	case ctx.Err() == nil:
		// gnet ends the whole engine on an error in an event loop, an
		// accept failing for want of descriptors among them, and Run then
		// returns nil: the reason is in the log, from gnet.
		logger.Print("gnetspam: gnet stopped unasked")
		return 1
	}
	return 0
}

// choosePort returns addr with a free port in place of port 0.
func choosePort(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if port != "0" {
		return addr, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	defer l.Close()
	return net.JoinHostPort(host, strconv.Itoa(l.Addr().(*net.TCPAddr).Port)), nil
}

// gnetLogger passes gnet's warnings and errors on to the server's log, and
// drops its debugging and information: a log that holds more than the
// address, with -quiet, is a sign of trouble to bench/run.sh.
type gnetLogger struct{ l *log.Logger }

func (gnetLogger) Debugf(string, ...any) {}
func (gnetLogger) Infof(string, ...any)  {}
func (g gnetLogger) Warnf(format string, args ...any) {
	g.l.Print("gnet: ", fmt.Sprintf(format, args...))
}
func (g gnetLogger) Errorf(format string, args ...any) {
	g.l.Print("gnet: ", fmt.Sprintf(format, args...))
}
func (g gnetLogger) Fatalf(format string, args ...any) {
	g.l.Print("gnet: ", fmt.Sprintf(format, args...))
	os.Exit(1)
}

// The spam protocol, as cmd/spamserver speaks it.
const (
	spamFollows = "100 SPAM FOLLOWS\n"
	spamLine    = "spam glorious spam\n"
	badRequest  = "400 WE ONLY SERVE SPAM\n"
	maxLine     = 4096 // lwtask.DefaultMaxLine, without the line ending
)

const (
	// chunk is how many bytes of replies are gathered before they are
	// written: gnet's own read and write buffer size. The requests of one
	// read whose replies fit go out in one write.
	chunk = 64 << 10
	// room is what must be left in a chunk for one more piece of a reply
	// (a status line or a line of spam): past it the chunk is written.
	room = 64
	// burst is how many bytes one connection may write in one turn of
	// its loop; then it lets the other connections have theirs.
	burst = 1 << 20
	// A connection whose replies wait for room in the socket looks again
	// after stallPoll, and then after twice as long each time it finds
	// none, up to maxStallPoll (see session.stall).
	stallPoll    = time.Millisecond
	maxStallPoll = 64 * time.Millisecond
	// lingerTime and lingerBytes bound the lingering close after a line
	// too long, as in cmd/spamserver.
	lingerTime  = time.Second
	lingerBytes = 1 << 20
)

// spamBlock is as many lines of spam as a chunk holds, for copying whole.
var spamBlock = strings.Repeat(spamLine, chunk/len(spamLine))

// buffers hold the replies being gathered, a chunk each. A loop needs one
// only during a callback, and gnet copies whatever the socket does not take
// at once, so they are shared by every connection rather than kept by each.
var buffers = sync.Pool{New: func() any {
	b := make([]byte, 0, chunk)
	return &b
}}

type handler struct {
	gnet.BuiltinEventEngine
	log     *log.Logger
	quiet   bool
	booted  chan gnet.Engine
	bootErr error
}

// OnBoot logs the address listened on. gnet binds the listening socket
// before it boots, but knows only the address it was given, so the port
// chosen for port 0 comes from the socket itself.
func (h *handler) OnBoot(eng gnet.Engine) gnet.Action {
	addr, err := boundAddr(eng)
	if err != nil {
		h.bootErr = err
		return gnet.Shutdown
	}
	// Even with -quiet: with -addr HOST:0 this is how the port chosen is
	// found.
	h.log.Print("Listening on ", addr)
	h.booted <- eng
	return gnet.None
}

func boundAddr(eng gnet.Engine) (net.Addr, error) {
	fd, err := eng.Dup()
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return nil, os.NewSyscallError("getsockname", err)
	}
	switch sa := sa.(type) {
	case *syscall.SockaddrInet4:
		return &net.TCPAddr{IP: sa.Addr[:], Port: sa.Port}, nil
	case *syscall.SockaddrInet6:
		a := &net.TCPAddr{IP: sa.Addr[:], Port: sa.Port}
		if sa.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(sa.ZoneId)); err == nil {
				a.Zone = ifi.Name
			}
		}
		return a, nil
	}
	return nil, fmt.Errorf("listening on an address of type %T", sa)
}

func (h *handler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if !h.quiet {
		h.log.Print("Listener: Accepted connection from ", c.RemoteAddr())
	}
	c.SetContext(new(session))
	return nil, gnet.None
}

// session is where a connection is between callbacks. gnet keeps the
// requests not yet answered in the connection's inbound buffer.
type session struct {
	owed        int64         // lines of spam still owed on the reply being sent
	refusing    bool          // a line was too long: its 400 is on its way
	draining    bool          // then writing is shut down, and what comes in is dropped
	dropped     int           // bytes dropped while draining
	lingerUntil time.Time     // when a draining connection is closed anyway
	backoff     time.Duration // how long stall waited last
	timer       *time.Timer   // wakes the connection (see wakeAfter)
}

func (h *handler) OnTraffic(c gnet.Conn) gnet.Action {
	s := c.Context().(*session)
	switch {
	case s.draining:
		return s.drain(c)
	case s.refusing:
		return s.refuse(c)
	case c.OutboundBuffered() >= chunk:
		// A reply is still waiting for the socket: answer nothing more
		// until it has gone, lest the buffer grow without bound.
		s.stall(c, false)
		return gnet.None
	}
	switch s.pump(c, false) {
	case blocked:
		s.stall(c, true)
	case yielded:
		c.Wake(nil)
	case refused:
		return s.refuse(c)
	}
	return gnet.None
}

// OnClose answers what is left when the client has ended its side. gnet
// closes a connection as soon as a read returns the end of the stream, so
// a last line without a line ending, which cmd/spamserver answers, is only
// here to be answered. What gnet cannot then write at once, it drops: a
// client that half-closes while a long reply is on its way gets the start
// of it, where cmd/spamserver sends all of it.
func (h *handler) OnClose(c gnet.Conn, err error) gnet.Action {
	s, ok := c.Context().(*session)
	if !ok {
		return gnet.None
	}
	if s.timer != nil {
		s.timer.Stop()
	}
	if errors.Is(err, io.EOF) && !s.refusing && !s.draining {
		s.pump(c, true)
	}
	return gnet.None
}

// Why pump stopped.
type outcome int

const (
	needInput outcome = iota // every complete request is answered
	blocked                  // the socket is full and replies wait for it
	yielded                  // the connection has written its burst
	refused                  // a line too long was answered with 400
	failed                   // a write failed, and gnet has closed the connection
)

// pump answers the requests buffered on c, from the reply under way on.
// Replies gather in a chunk that is written when full and when pump stops.
// At eof a last line without a line ending is a request too.
func (s *session) pump(c gnet.Conn, eof bool) outcome {
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	out := (*bp)[:0]
	data, _ := c.Peek(-1) // everything buffered; valid until Discard
	pos, written := 0, 0
	result := needInput
	for result == needInput {
		if s.owed > 0 {
			k := min(s.owed, int64((chunk-len(out))/len(spamLine)))
			out = append(out, spamBlock[:k*int64(len(spamLine))]...)
			s.owed -= k
		} else {
			line, size, tooLong := cutLine(data[pos:], eof)
			if size == 0 {
				break
			}
			pos += size
			if tooLong {
				out = append(out, badRequest...)
				result = refused
			} else if n, ok := parseRequest(line); ok {
				out = append(out, spamFollows...)
				s.owed = n
			} else {
				out = append(out, badRequest...)
			}
		}
		if len(out) > chunk-room {
			if _, err := c.Write(out); err != nil {
				return failed
			}
			written += len(out)
			out = out[:0]
			switch {
			case result != needInput: // refused: refuse waits for the socket itself
			case c.OutboundBuffered() > 0:
				result = blocked
			case written >= burst:
				result = yielded
			}
		}
	}
	if len(out) > 0 {
		if _, err := c.Write(out); err != nil {
			return failed
		}
	}
	if pos > 0 {
		c.Discard(pos) // not Discard(0), which empties the buffer
	}
	return result
}

// cutLine returns the first line of data, without its "\n" or "\r\n", and
// its size with the line ending, or a size of 0 if data holds no whole line
// yet. It takes lines as lwtask's Conn.ReadLine does, and bench/netspam
// with a bufio.Reader of maxLine+2 bytes: a line is too long if it has
// more than maxLine bytes without its ending, or if maxLine+2 bytes hold
// no "\n". At eof the rest of data is a line.
func cutLine(data []byte, eof bool) (line []byte, size int, tooLong bool) {
	window := data[:min(len(data), maxLine+2)]
	for i, b := range window {
		if b == '\n' {
			line = data[:i]
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
			return line, i + 1, len(line) > maxLine
		}
	}
	switch {
	case len(data) >= maxLine+2:
		return nil, len(data), true
	case eof && len(data) > 0:
		return data, len(data), len(data) > maxLine
	}
	return nil, 0, false
}

// refuse ends the connection after a line too long, since the next request
// cannot be found. Closing with the rest of the line unread would make the
// kernel reset the connection, and a reset can overtake the 400 on its way
// to the client: so, as cmd/spamserver does, it shuts down writing once
// the 400 has gone, then drops what the client still sends until it ends
// its side, for a second or a megabyte at most.
func (s *session) refuse(c gnet.Conn) gnet.Action {
	s.refusing = true
	if c.OutboundBuffered() > 0 {
		s.stall(c, false)
		return gnet.None
	}
	if err := syscall.Shutdown(c.Fd(), syscall.SHUT_WR); err != nil {
		return gnet.Close
	}
	s.refusing, s.draining = false, true
	s.lingerUntil = time.Now().Add(lingerTime)
	s.wakeAfter(c, lingerTime)
	return s.drain(c)
}

func (s *session) drain(c gnet.Conn) gnet.Action {
	if n := c.InboundBuffered(); n > 0 {
		s.dropped += n
		c.Discard(n)
	}
	if s.dropped >= lingerBytes || !time.Now().Before(s.lingerUntil) {
		return gnet.Close
	}
	return gnet.None
}

// stall has OnTraffic called on c again when the socket may have room for
// the replies that wait. gnet tells a handler when data arrives but not
// when the socket has room again (it writes what it has buffered itself),
// so the connection looks again after a while: soon after it has made
// progress, and less and less often while it finds none, since every look
// costs the loop a wake-up (a millisecond's polling cost about 13% of a
// CPU for one client that does not read). A connection whose client
// reads as fast as it is written to never waits.
func (s *session) stall(c gnet.Conn, progress bool) {
	if progress || s.backoff == 0 {
		s.backoff = stallPoll
	} else {
		s.backoff = min(2*s.backoff, maxStallPoll)
	}
	s.wakeAfter(c, s.backoff)
}

// wakeAfter has OnTraffic called on c again after d.
func (s *session) wakeAfter(c gnet.Conn, d time.Duration) {
	if s.timer == nil {
		s.timer = time.AfterFunc(d, func() { c.Wake(nil) })
		return
	}
	s.timer.Reset(d)
}

// parseRequest returns how many lines of spam a request line asks for, or
// false if the request is bad: exactly "SPAM" and a whole number above
// zero, split on ASCII white space. A number too large for an int64 is
// still a number above zero: it is served until the client has had enough.
func parseRequest(line []byte) (n int64, ok bool) {
	fields, count := splitFields(line)
	if count != 2 || string(fields[0]) != "SPAM" {
		return 0, false
	}
	digits := fields[1]
	if len(digits) > 0 && digits[0] == '+' {
		digits = digits[1:]
	}
	if len(digits) == 0 {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (1<<63-1-d)/10 {
			n = 1<<63 - 1 // saturate, but go on checking the digits
			continue
		}
		n = n*10 + d
	}
	return n, n >= 1
}

// splitFields splits a request on ASCII white space, without allocating:
// it returns up to three fields (a third means too many) and how many it
// found.
func splitFields(line []byte) (fields [3][]byte, count int) {
	i := 0
	for count < len(fields) {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i == len(line) {
			break
		}
		start := i
		for i < len(line) && !isSpace(line[i]) {
			i++
		}
		fields[count] = line[start:i]
		count++
	}
	return fields, count
}

// isSpace reports whether c is white space to the essay's split(): ASCII
// white space only.
func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}
