package lwtask_test

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"runtime"
	"testing"

	"github.com/lwtask/lwtask"
)

// TestIdleConnectionStack checks what an idle generator-style connection
// costs in stack: one that has served a request, flushed the reply and
// waits for the next holds no more than the 2 KB its coroutine started
// with. Go never shrinks the stack of a task parked deep in its wait, so a
// path through read, flush and wait that outgrew 2 KB once would cost every
// connection 4 KB for as long as it lives. The check is of bytes, not time.
// It runs on every backend: each has its own registration path.
//
// Go picks a goroutine's first stack from the average use of the stacks it
// saw at the last collection (GODEBUG adaptivestackstart), which in a test
// binary, with few goroutines and big test frames, is more than 2 KB; so
// the test runs again in a child with that turned off.
func TestIdleConnectionStack(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes every frame bigger")
	}
	if os.Getenv("LWTASK_STACK_CHILD") == "" {
		godebug := "adaptivestackstart=0"
		if g := os.Getenv("GODEBUG"); g != "" {
			godebug = g + "," + godebug
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestIdleConnectionStack$", "-test.v")
		cmd.Env = append(os.Environ(), "LWTASK_STACK_CHILD=1", "GODEBUG="+godebug)
		out, err := cmd.CombinedOutput()
		t.Logf("child:\n%s", out)
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		const conns = 200
		l := listen(t, rt, "tcp", "127.0.0.1:0")
		rt.Go("listener", func(tk *lwtask.Task) {
			for {
				c, err := l.Accept(tk)
				if err != nil {
					return
				}
				rt.Go("handler", func(tk *lwtask.Task) { echoLines(tk, c) })
			}
		})
		release := rt.Hold()
		done := make(chan error)
		go func() { done <- rt.Run() }()

		// One connection first, so that the stacks of the run loop and of
		// the listener have grown to their size before the count starts.
		clients := []net.Conn{ask(t, l.Addr().String())}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range conns {
			clients = append(clients, ask(t, l.Addr().String()))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)

		perConn := float64(after.StackInuse-before.StackInuse) / conns
		t.Logf("%.0f bytes of stack per idle connection", perConn)
		// Some connections may have grown on a rare path (an allocation
		// that refills the allocator's cache, a table grown); most must
		// not have.
		if perConn > 3072 {
			t.Errorf("%.0f bytes of stack per idle connection, want about 2048", perConn)
		}
		for _, c := range clients {
			c.Close()
		}
		rt.Post(func() { l.Close(); release() })
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// echoLines answers each line c sends with the same line.
func echoLines(tk *lwtask.Task, c *lwtask.Conn) {
	defer c.Close()
	for {
		line, err := c.ReadLine(tk)
		if err != nil {
			return
		}
		c.Write(tk, line)
		c.WriteString(tk, "\n")
	}
}

// ask connects to addr and has one line echoed, leaving the connection
// open.
func ask(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "hello\n" {
		t.Fatalf("echo: %q, %v", line, err)
	}
	return c
}
