package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// patience is how long a test waits for what should happen at once.
const patience = 10 * time.Second

// With GNETSPAM_ARGS set, the test binary is the server, with those
// arguments: so that a test can signal a server of its own. With
// GNETSPAM_NOFILE too, the server can have that many descriptors.
func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv("GNETSPAM_ARGS"); ok {
		if n, err := strconv.ParseUint(os.Getenv("GNETSPAM_NOFILE"), 10, 64); err == nil {
			var lim syscall.Rlimit
			syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
			lim.Cur = n
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
				panic(err)
			}
		}
		main2(strings.Fields(args))
	}
	os.Exit(m.Run())
}

// main2 is main with other arguments.
func main2(args []string) {
	os.Args = append(os.Args[:1], args...)
	main()
}

// conversations are requests and the exact replies the essay's protocol
// gives them; each is sent in one write, then the client half-closes. The
// same as bench/netspam's.
var conversations = []struct {
	name, send, want string
}{
	{"spam", "SPAM 3\n", "100 SPAM FOLLOWS\n" + strings.Repeat("spam glorious spam\n", 3)},
	{"crlf and spaces", "  SPAM\t+2 \r\n", "100 SPAM FOLLOWS\n" + strings.Repeat("spam glorious spam\n", 2)},
	{"zero", "SPAM 0\n", badRequest},
	{"negative", "SPAM -1\n", badRequest},
	{"lower case", "spam 1\n", badRequest},
	{"no number", "SPAM\n", badRequest},
	{"extra field", "SPAM 1 2\n", badRequest},
	{"empty line", "\n", badRequest},
	{"pipelined", "SPAM 1\nEGGS\nSPAM 2\n", "100 SPAM FOLLOWS\nspam glorious spam\n" + badRequest +
		"100 SPAM FOLLOWS\nspam glorious spam\nspam glorious spam\n"},
	{"unterminated last line", "SPAM 1\nSPAM 1", "100 SPAM FOLLOWS\nspam glorious spam\n100 SPAM FOLLOWS\nspam glorious spam\n"},
	{"longest line", "SPAM" + strings.Repeat(" ", maxLine-5) + "1\r\n", "100 SPAM FOLLOWS\nspam glorious spam\n"},
	{"line too long", "SPAM 1\n" + strings.Repeat(" ", maxLine+1) + "\n", "100 SPAM FOLLOWS\nspam glorious spam\n" + badRequest},
	{"unterminated too long", strings.Repeat(" ", maxLine+1), badRequest},
	// Beyond netspam's: the edges of the line limit and of the numbers.
	{"longest line, lf", "SPAM" + strings.Repeat(" ", maxLine-5) + "1\n", "100 SPAM FOLLOWS\nspam glorious spam\n"},
	{"too long by its cr", "SPAM" + strings.Repeat(" ", maxLine-4) + "1\r\n", badRequest},
	{"too long, then more", strings.Repeat("x", 3*maxLine) + "\nSPAM 1\n", badRequest},
	{"no-break space", "SPAM\u00a01\n", badRequest},
	{"number beyond int64 with a letter", "SPAM 99999999999999999999x\n", badRequest},
	{"many pipelined", strings.Repeat("SPAM 2\n", 5000),
		strings.Repeat("100 SPAM FOLLOWS\nspam glorious spam\nspam glorious spam\n", 5000)},
}

// configs are the ways of running the server that the conversations are
// held with.
var configs = [][]string{
	{},
	{"-loops", "2"},
	{"-loops", "2", "-reuseport"},
	{"-multicore"},
}

func TestConversations(t *testing.T) {
	for _, args := range configs {
		t.Run(strings.Join(append([]string{"flags"}, args...), " "), func(t *testing.T) {
			addr := startInProcess(t, args...)
			for _, tc := range conversations {
				t.Run(tc.name, func(t *testing.T) {
					if got := converse(t, addr, tc.send); got != tc.want {
						t.Errorf("sent %.40q: got %.200q, want %.200q", tc.send, got, tc.want)
					}
				})
			}
		})
	}
}

// TestSameAsSpamServer holds gnetspam to the lwtask server's replies, byte
// for byte, so that the benchmark compares servers doing the same work.
func TestSameAsSpamServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts cmd/spamserver")
	}
	ours := startInProcess(t)
	theirs := startSpamServer(t)
	for _, tc := range conversations {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := converse(t, ours, tc.send), converse(t, theirs, tc.send); got != want {
				t.Errorf("sent %.40q: gnetspam replied %.200q, spamserver %.200q", tc.send, got, want)
			}
		})
	}
}

// TestHugeReply streams part of an endless reply: the server must not stall
// the other connections while the client does not read, nor spin, and must
// go on when it reads again.
func TestHugeReply(t *testing.T) {
	addr := startInProcess(t)
	huge := dial(t, addr)
	if _, err := io.WriteString(huge, "SPAM 1000000000\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReaderSize(huge, 64<<10)
	if err := readSpam(r, 1<<20); err != nil {
		t.Fatal(err)
	}
	// Long enough for the socket buffers to fill.
	time.Sleep(200 * time.Millisecond)
	const idle = 500 * time.Millisecond
	before := cpuTime(t)
	time.Sleep(idle)
	if used := cpuTime(t) - before; used > idle/10 {
		t.Errorf("used %v of CPU in %v while the client did not read", used, idle)
	}
	other := dial(t, addr)
	if _, err := io.WriteString(other, "SPAM 3\n"); err != nil {
		t.Fatal(err)
	}
	want := spamFollows + strings.Repeat(spamLine, 3)
	got := make([]byte, len(want))
	other.SetReadDeadline(time.Now().Add(patience))
	if _, err := io.ReadFull(other, got); err != nil || string(got) != want {
		t.Fatalf("beside a stalled reply: got %q, %v", got, err)
	}
	if err := readSpam(r, 16<<20); err != nil {
		t.Fatal(err)
	}
}

// cpuTime returns the CPU time this process, the server's, has used.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// readSpam reads n bytes of spam lines, after the status line and from the
// start of a line.
func readSpam(r *bufio.Reader, n int) error {
	status, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if status != spamFollows && status != spamLine {
		return fmt.Errorf("got %q", status)
	}
	for read := 0; read < n; read += len(spamLine) {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if line != spamLine {
			return fmt.Errorf("at byte %d of the spam: got %q", read, line)
		}
	}
	return nil
}

// TestSignal: SIGTERM and SIGINT stop the server with exit status 0.
func TestSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "GNETSPAM_ARGS=-addr 127.0.0.1:0 -loops 2 -reuseport")
			addr, log := startCommand(t, cmd)
			if got := converse(t, addr, "SPAM 1\n"); got != spamFollows+spamLine {
				t.Errorf("got %q", got)
			}
			c := dial(t, addr) // an open connection does not hold up the exit
			defer c.Close()
			cmd.Process.Signal(sig)
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			select {
			case err := <-exited:
				if err != nil {
					t.Errorf("exit: %v, log:\n%s", err, <-log)
				}
			case <-time.After(time.Minute): // a hang, not a slow machine
				cmd.Process.Kill()
				<-exited
				t.Errorf("the open connection held up the exit")
			}
		})
	}
}

// TestOutOfDescriptors: gnet ends its engine when an accept fails for want
// of descriptors (where cmd/spamserver backs off and goes on), and the
// server then exits with status 1, not 0 as when it is asked to stop.
func TestOutOfDescriptors(t *testing.T) {
	const limit = 32
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GNETSPAM_ARGS=-addr 127.0.0.1:0 -quiet", fmt.Sprint("GNETSPAM_NOFILE=", limit))
	addr, log := startCommand(t, cmd)
	for range limit {
		c, err := net.DialTimeout("tcp", addr, patience)
		if err != nil {
			break // refused once the server has gone
		}
		defer c.Close()
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("exit: %v, want status 1", err)
		}
		if l := <-log; !strings.Contains(l, "too many open files") {
			t.Errorf("log:\n%s", l)
		}
	case <-time.After(patience):
		cmd.Process.Kill()
		t.Fatal("still serving with its descriptors used up")
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-nosuchflag"}, {"extra"}, {"-loops", "0"}} {
		if got := run(context.Background(), args, io.Discard); got != 2 {
			t.Errorf("run(%q) = %d, want 2", args, got)
		}
	}
}

func TestCannotListen(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got := run(context.Background(), []string{"-addr", l.Addr().String(), "-quiet"}, io.Discard); got != 1 {
		t.Errorf("on an address in use: %d, want 1", got)
	}
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, patience)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// converse sends one message to a new connection, half-closes it and
// returns everything the server sends back before it closes.
func converse(t *testing.T, addr, send string) string {
	t.Helper()
	c := dial(t, addr)
	c.SetDeadline(time.Now().Add(patience))
	// Write and read at once: a long conversation fills both ways.
	wrote := make(chan error, 1)
	go func() {
		_, err := io.WriteString(c, send)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		wrote <- err
	}()
	got, err := io.ReadAll(c)
	if werr := <-wrote; werr != nil {
		t.Fatalf("sent %.40q: %v", send, werr)
	}
	if err != nil {
		t.Fatalf("sent %.40q: %v after %.200q", send, err, got)
	}
	return string(got)
}

// logLines is a server's standard error, kept for the test.
type logLines struct {
	mu        sync.Mutex
	buf       strings.Builder
	listening chan string // the address, once logged
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	for _, line := range strings.Split(string(p), "\n") {
		if addr, ok := strings.CutPrefix(line, "Listening on "); ok {
			l.listening <- addr
		}
	}
	return len(p), nil
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// startInProcess serves with args on a loopback port until the test ends.
func startInProcess(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := &logLines{listening: make(chan string, 1)}
	done := make(chan int)
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0", "-quiet"}, args...), log)
	}()
	var addr string
	select {
	case addr = <-log.listening:
	case code := <-done:
		cancel()
		t.Fatalf("run: %d, log:\n%s", code, log)
	case <-time.After(patience):
		cancel()
		t.Fatalf("no address logged, log:\n%s", log)
	}
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 || unexpected(log.String()) {
			t.Errorf("run: %d, log:\n%s", code, log)
		}
	})
	return addr
}

// startSpamServer builds and starts cmd/spamserver on a loopback port
// until the test ends.
func startSpamServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "spamserver")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	build := exec.Command(goTool, "build", "-o", bin, "./cmd/spamserver")
	build.Dir = filepath.Join("..", "..") // lwtask's own module
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-quiet")
	addr, log := startCommand(t, cmd)
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("spamserver: %v, log:\n%s", err, <-log)
		}
	})
	return addr
}

// startCommand starts a server and returns the address it logs first, and
// the rest of its log once it has exited.
func startCommand(t *testing.T, cmd *exec.Cmd) (addr string, log <-chan string) {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewReader(stderr)
	first, err := lines.ReadString('\n')
	drained := make(chan string, 1)
	go func() {
		rest, _ := io.ReadAll(lines)
		drained <- string(rest)
	}()
	addr, ok := strings.CutPrefix(strings.TrimSpace(first), "Listening on ")
	if err != nil || !ok {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("%s: first line %q, %v", cmd.Path, first, err)
	}
	return addr, drained
}

// unexpected reports whether a server's log holds more than its address.
func unexpected(log string) bool {
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		if line != "" && !strings.HasPrefix(line, "Listening on ") {
			return true
		}
	}
	return false
}
