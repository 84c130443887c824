package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lwtask/lwtask/fdqueue/poller"
	"go.uber.org/goleak"
)

// The server is tested as a program: built once, started as a subprocess
// per test (or per backend), driven over TCP and watched through its stderr
// and, on Linux, /proc.
//
// Set SPAMSERVER_GOCOVERDIR to a directory to build it with coverage of the
// whole module and collect its counters there (go tool covdata percent -i).

// patience bounds every wait for the server, so that a broken server fails
// a test instead of hanging it. It is no timing assertion: a healthy server
// answers in milliseconds.
const patience = 20 * time.Second

func TestMain(m *testing.M) {
	raiseFdLimit()
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		if build.dir != "" {
			os.RemoveAll(build.dir)
		}
		os.Exit(code)
	}))
}

// raiseFdLimit lifts the soft descriptor limit to the hard one. Setting it
// explicitly also makes the servers started by the tests inherit it: Go
// otherwise gives child processes the limit the test started with.
func raiseFdLimit() {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil {
		return
	}
	lim.Cur = lim.Max
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}

// needFds skips t unless this process may hold n descriptors.
func needFds(t *testing.T, n int) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skip("getrlimit:", err)
	}
	if uint64(lim.Cur) < uint64(n) {
		t.Skipf("needs %d descriptors; RLIMIT_NOFILE is %d", n, lim.Cur)
	}
}

var build struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// serverBinary builds the server once, with the race detector when the
// tests have it. Fuzzing workers run TestMain too, hence the lazy build.
func serverBinary(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			build.err = err
			return
		}
		build.dir, build.err = os.MkdirTemp("", "spamserver-test")
		if build.err != nil {
			return
		}
		build.bin = filepath.Join(build.dir, "spamserver")
		args := []string{"build", "-o", build.bin}
		if raceEnabled {
			args = append(args, "-race")
		}
		if os.Getenv("SPAMSERVER_GOCOVERDIR") != "" {
			args = append(args, "-cover", "-coverpkg=github.com/lwtask/lwtask/...")
		}
		out, err := exec.Command(goTool, append(args, ".")...).CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.bin
}

// serverCommand returns a command running the server with args.
func serverCommand(ctx context.Context, t *testing.T, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, serverBinary(t), args...)
	// The race detector otherwise sleeps a second at exit.
	cmd.Env = append(os.Environ(), "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	if dir := os.Getenv("SPAMSERVER_GOCOVERDIR"); dir != "" {
		cmd.Env = append(cmd.Env, "GOCOVERDIR="+dir)
	}
	return cmd
}

// forEachPoller runs f in parallel subtests, one per poller backend, and
// for each also the server in the step style ("epoll+step") and with two
// loops ("epoll+loops2"), and the best backend edge-triggered
// ("epoll-edge"), where it can be: the same behaviour is asked of all.
func forEachPoller(t *testing.T, f func(t *testing.T, backend string)) {
	var names []string
	for _, name := range poller.Names() {
		names = append(names, name, name+"+step", name+"+loops2")
	}
	if p, err := poller.New(names[0]); err == nil {
		if p.CanEdge() {
			names = append(names, names[0]+"-edge")
		}
		p.Close()
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, name)
		})
	}
}

// config says how to start a server.
type config struct {
	poller     string
	quiet      bool
	fdLimit    int        // RLIMIT_NOFILE for the server, if not 0
	extraFiles []*os.File // inherited as descriptors 3, 4, ...; nil leaves a gap
	args       []string   // more flags
}

type testServer struct {
	cmd    *exec.Cmd
	addr   string
	stderr *output
	done   chan struct{} // closed when the process has been reaped
}

// startServer starts a server on a free loopback port and waits until it
// listens. It is stopped when the test ends.
func startServer(t *testing.T, c config) *testServer {
	t.Helper()
	args := []string{"-addr", "127.0.0.1:0"}
	backend := c.poller
	if b, ok := strings.CutSuffix(backend, "+step"); ok {
		backend, args = b, append(args, "-style", "step")
	}
	if b, ok := strings.CutSuffix(backend, "+loops2"); ok {
		backend, args = b, append(args, "-loops", "2")
	}
	if b, ok := strings.CutSuffix(backend, "-edge"); ok {
		backend, args = b, append(args, "-edge")
	}
	if backend != "" {
		args = append(args, "-poller", backend)
	}
	if c.quiet {
		args = append(args, "-quiet")
	}
	args = append(args, c.args...)
	cmd := serverCommand(context.Background(), t, args...)
	if c.fdLimit > 0 {
		// Both limits, through a shell: the Go runtime raises a soft limit
		// to the hard one at start-up.
		shell := fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, c.fdLimit)
		cmd.Args = append([]string{"/bin/sh", "-c", shell, cmd.Path}, args...)
		cmd.Path = "/bin/sh"
	}
	s := &testServer{cmd: cmd, stderr: newOutput(), done: make(chan struct{})}
	cmd.Stderr = s.stderr
	cmd.ExtraFiles = c.extraFiles
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		// A data race or a panic in the server shows here.
		if code := s.stop(t, syscall.SIGTERM); code != 0 && !t.Failed() {
			t.Errorf("server exited with status %d; stderr:\n%s", code, s.stderr)
		}
	})
	line, ok := s.stderr.waitFor(s.done, func(line string) bool { return strings.HasPrefix(line, "Listening on ") })
	if !ok {
		t.Fatalf("server did not start listening; stderr:\n%s", s.stderr)
	}
	s.addr = strings.TrimPrefix(line, "Listening on ")
	return s
}

// stop sends sig and waits for the server to exit, killing it if it does
// not. It returns the exit code.
func (s *testServer) stop(t *testing.T, sig os.Signal) int {
	t.Helper()
	select {
	case <-s.done:
	default:
		s.cmd.Process.Signal(sig)
	}
	select {
	case <-s.done:
	case <-time.After(patience):
		s.cmd.Process.Kill()
		<-s.done
		t.Errorf("server ignored %v; stderr:\n%s", sig, s.stderr)
	}
	return s.cmd.ProcessState.ExitCode()
}

func (s *testServer) pid() int { return s.cmd.Process.Pid }

// waitLog waits until the server has logged a line for which match is true.
func (s *testServer) waitLog(t *testing.T, what string, match func(line string) bool) string {
	t.Helper()
	line, ok := s.stderr.waitFor(s.done, match)
	if !ok {
		t.Fatalf("server never logged %s; stderr:\n%s", what, s.stderr)
	}
	return line
}

// output collects a process's output and lets tests wait for lines.
type output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced by every Write
}

func newOutput() *output { return &output{changed: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	close(o.changed)
	o.changed = make(chan struct{})
	return len(p), nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitFor returns the first complete line for which match is true, waiting
// for it until done is closed (the process is gone) or patience runs out.
func (o *output) waitFor(done <-chan struct{}, match func(line string) bool) (string, bool) {
	timeout := time.NewTimer(patience)
	defer timeout.Stop()
	for {
		o.mu.Lock()
		text, changed := o.buf.String(), o.changed
		o.mu.Unlock()
		if line, ok := firstLine(text, match); ok {
			return line, true
		}
		select {
		case <-changed:
		case <-done:
			return firstLine(o.String(), match)
		case <-timeout.C:
			return "", false
		}
	}
}

func firstLine(text string, match func(string) bool) (string, bool) {
	lines := strings.SplitAfter(text, "\n")
	for _, line := range lines[:len(lines)-1] { // the last one is incomplete
		if line = strings.TrimSuffix(line, "\n"); match(line) {
			return line, true
		}
	}
	return "", false
}

// client is a connection to the server with the replies' reader.
type client struct {
	conn net.Conn
	r    *bufio.Reader
}

// dial connects to addr; the connection is closed when the test ends.
func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := newClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.conn.Close() })
	return c
}

func newClient(addr string) (*client, error) {
	conn, err := net.DialTimeout("tcp", addr, patience)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(patience))
	return &client{conn: conn, r: bufio.NewReader(conn)}, nil
}

func (c *client) localAddr() string { return c.conn.LocalAddr().String() }

// ask sends request, a line with its ending, and reads a reply of n lines
// of spam, or the refusal if n is 0.
func (c *client) ask(request string, n int) error {
	if _, err := io.WriteString(c.conn, request); err != nil {
		return err
	}
	return c.expect(reply(n))
}

// expect reads exactly len(want) bytes and compares them with want.
func (c *client) expect(want string) error {
	got := make([]byte, len(want))
	n, err := io.ReadFull(c.r, got)
	if err != nil {
		return fmt.Errorf("after %q: %w", abbrev(got[:n]), err)
	}
	if string(got) != want {
		return fmt.Errorf("got %q, want %q", abbrev(got), abbrev([]byte(want)))
	}
	return nil
}

// expectEnd checks that the server has closed the connection: EOF, or a
// reset when the server closed it with input unread.
func (c *client) expectEnd() error {
	b, err := c.r.ReadByte()
	switch {
	case err == nil:
		return fmt.Errorf("read %q after the end", b)
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return nil
	}
	return err
}

// reply is the server's answer to a request for n lines of spam, or to a
// bad request if n is 0.
func reply(n int) string {
	if n == 0 {
		return badRequest
	}
	return spamFollows + strings.Repeat(spamLine, n)
}

func abbrev(b []byte) string {
	if len(b) > 80 {
		return string(b[:40]) + "..." + string(b[len(b)-40:])
	}
	return string(b)
}

// The /proc readers below skip the test where there is no /proc.

// cpuTime returns the CPU time a process has used.
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	stat := readProc(t, pid, "stat")
	// Fields after the command name, which may hold spaces: state is
	// field 3, utime and stime are fields 14 and 15.
	fields := strings.Fields(stat[strings.LastIndexByte(stat, ')')+1:])
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("parsing /proc/%d/stat: %v", pid, err)
	}
	const clockTick = 10 * time.Millisecond // USER_HZ is 100 on every Linux port
	return time.Duration(utime+stime) * clockTick
}

// rss returns a process's resident set size in bytes.
func rss(t *testing.T, pid int) int64 {
	t.Helper()
	for _, line := range strings.Split(readProc(t, pid, "status"), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("parsing VmRSS %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// openFds returns a process's open descriptors.
func openFds(t *testing.T, pid int) []int {
	t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	fds := make([]int, 0, len(entries))
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil {
			fds = append(fds, fd)
		}
	}
	return fds
}

func readProc(t *testing.T, pid int, name string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, name))
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("no /proc here:", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// needProc skips the test where there is no /proc.
func needProc(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here:", err)
	}
}

// waitUntil polls cond, which watches the server through /proc, until it
// holds. Polling is the only way to see such state change; patience bounds
// it.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// assertIdle checks that the server is idle, not spinning: that over some
// window it uses almost no CPU. A spinning server burns about the whole
// window, an idle one nothing, so a slack of a fifth of the window tells
// them apart even on a loaded machine. The server may first finish what it
// was doing (filling a socket's buffers, say): only a server that never
// settles fails.
func assertIdle(t *testing.T, s *testServer, window time.Duration, when string) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		before := cpuTime(t, s.pid())
		time.Sleep(window)
		used := cpuTime(t, s.pid()) - before
		if used <= window/5 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: server still used %v of CPU in %v: it is spinning", when, used, window)
			return
		}
	}
}
