package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestLoadBothServers runs the client briefly, pipelined, against the lwtask
// spam server and its goroutine-per-connection peer, as bench/run.sh does.
func TestLoadBothServers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the servers")
	}
	for _, pkg := range []string{"../spamserver", "../../bench/netspam"} {
		t.Run(filepath.Base(pkg), func(t *testing.T) {
			srv := startServer(t, buildCommand(t, pkg))
			out := runClient(t, 0, "-addr", srv.addr, "-conns", "5", "-n", "3", "-depth", "4",
				"-warmup", "50ms", "-duration", "300ms", "-pid", strconv.Itoa(srv.pid()))
			if got := field(t, out, "errors"); got != 0 {
				t.Errorf("errors: %v\n%s", got, out)
			}
			if got := field(t, out, "requests"); got < 1 {
				t.Errorf("requests: %v\n%s", got, out)
			}
			if p50, p99 := field(t, out, "latency p50"), field(t, out, "latency p99"); p50 <= 0 || p99 < p50 {
				t.Errorf("p50 %v, p99 %v\n%s", p50, p99, out)
			}
			field(t, out, "server CPU user")
			field(t, out, "server CPU system")
		})
	}
}

// TestIdle holds idle connections open and reports the server's memory.
func TestIdle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the server")
	}
	srv := startServer(t, buildCommand(t, "../../bench/netspam"))
	out := runClient(t, 0, "-addr", srv.addr, "-idle", "20", "-duration", "10ms", "-pid", strconv.Itoa(srv.pid()))
	if !strings.Contains(out, "idle connections: 20,") {
		t.Errorf("output:\n%s", out)
	}
	field(t, out, "server RSS per connection")
}

// TestBadReply checks that a server speaking the wrong protocol fails the
// run.
func TestBadReply(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer l.Close()
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		bufio.NewReader(c).ReadString('\n')
		io.WriteString(c, "100 SPAM FOLLOWS\nham\n")
		io.Copy(io.Discard, c)
	}()
	out := runClient(t, 1, "-addr", l.Addr().String(), "-warmup", "0s", "-duration", "100ms")
	if field(t, out, "errors") != 1 {
		t.Errorf("output:\n%s", out)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-conns", "0"}, {"-depth", "-1"}, {"-n", "x"}, {"extra"}} {
		var stderr bytes.Buffer
		if got := run(args, io.Discard, &stderr); got != 2 {
			t.Errorf("run(%q) = %d, want 2", args, got)
		}
	}
	// Values too large to make the buffers, slices or connections they
	// ask for, and flags that do not go together: status 2 and one line
	// saying why, not a panic. The address is never dialled.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-depth", "100000000000000"}, "spamload: -depth must be at most 65536\n"},
		{[]string{"-depth", "65537"}, "spamload: -depth must be at most 65536\n"},
		{[]string{"-conns", "9223372036854775807", "-probe", "1"}, "spamload: -conns and -probe together must be at most 1048576\n"},
		{[]string{"-conns", "1", "-probe", "9223372036854775807"}, "spamload: -conns and -probe together must be at most 1048576\n"},
		{[]string{"-conns", "1048576", "-probe", "1"}, "spamload: -conns and -probe together must be at most 1048576\n"},
		{[]string{"-idle", "9223372036854775807"}, "spamload: -idle must be at most 1048576\n"},
		{[]string{"-idle", "2", "-probe", "1"}, "spamload: -probe cannot be used with -idle\n"},
	} {
		var stdout, stderr bytes.Buffer
		if got := run(append(tc.args, "-addr", "127.0.0.1:0"), &stdout, &stderr); got != 2 || stdout.Len() > 0 || stderr.String() != tc.want {
			t.Errorf("run(%q) = %d, stdout %q, stderr %q; want 2 and %q", tc.args, got, stdout.String(), stderr.String(), tc.want)
		}
	}
}

func TestHistogram(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Microsecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, 1000 * time.Microsecond}} {
		got := h.quantile(tc.q)
		if diff := float64(got-tc.want) / float64(tc.want); diff < -0.04 || diff > 0.04 {
			t.Errorf("quantile(%v) = %v, want %v within 4%%", tc.q, got, tc.want)
		}
	}
	for v := uint64(0); v < 1<<20; v += 7 {
		if i := bucket(v); bucket(bucketMid(i)) != i {
			t.Fatalf("bucketMid(bucket(%d)) = %d is in another bucket", v, bucketMid(i))
		}
	}
}

func runClient(t *testing.T, wantStatus int, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if got := run(args, &stdout, &stderr); got != wantStatus {
		t.Fatalf("spamload %q: status %d, want %d\nstdout:\n%s\nstderr:\n%s", args, got, wantStatus, &stdout, &stderr)
	}
	return stdout.String()
}

// field returns the number after "name: " in the client's output.
func field(t *testing.T, out, name string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `: ([0-9.]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %q in output:\n%s", name, out)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// buildCommand builds the command in pkg and returns the binary's path.
func buildCommand(t *testing.T, pkg string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if out, err := exec.Command(goTool, "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

type server struct {
	cmd  *exec.Cmd
	addr string
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// startServer runs a spam server binary on a free loopback port, learnt
// from the "Listening on" line it logs, and stops it when the test ends.
func startServer(t *testing.T, bin string) *server {
	t.Helper()
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-quiet")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	drained := make(chan string)
	lines := bufio.NewReader(stderr)
	first, err := lines.ReadString('\n')
	go func() {
		rest, _ := io.ReadAll(lines)
		drained <- string(rest)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		log := <-drained
		if err := cmd.Wait(); err != nil || log != "" {
			t.Errorf("%s: %v, log:\n%s", bin, err, log)
		}
	})
	addr, ok := strings.CutPrefix(strings.TrimSpace(first), "Listening on ")
	if err != nil || !ok {
		t.Fatalf("%s: first line %q, %v", bin, first, err)
	}
	return &server{cmd: cmd, addr: addr}
}
