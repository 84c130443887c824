package lwtask_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lwtask/lwtask"
	"github.com/lwtask/lwtask/task"
)

// listen makes a listener closed when the test ends, if the test has not
// closed it.
func listen(t *testing.T, rt *lwtask.Runtime, network, addr string) *lwtask.Listener {
	t.Helper()
	l, err := rt.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// echo serves one connection on l: each line back, upper-cased, until EOF.
func echo(t *testing.T, tk *lwtask.Task, l *lwtask.Listener) (peer net.Addr) {
	c, err := l.Accept(tk)
	if err != nil {
		t.Error(err)
		return nil
	}
	defer c.Close()
	for {
		line, err := c.ReadLine(tk)
		if err != nil {
			if err != io.EOF {
				t.Error(err)
			}
			break
		}
		c.WriteString(tk, strings.ToUpper(string(line))+"\n")
	}
	if err := c.Flush(tk); err != nil {
		t.Error(err)
	}
	return c.RemoteAddr()
}

// TestEcho serves a client over TCP and over a Unix socket: Accept gives
// the peer's address, lines go back and forth, and the Unix socket's file
// goes with the listener.
func TestEcho(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		for _, network := range []string{"tcp", "unix"} {
			addr := "127.0.0.1:0"
			if network == "unix" {
				addr = filepath.Join(t.TempDir(), "sock")
			}
			l := listen(t, rt, network, addr)
			var peer, local net.Addr
			rt.Go("server", func(tk *lwtask.Task) { peer = echo(t, tk, l) })
			var replies []string
			rt.Go("client", func(tk *lwtask.Task) {
				c, err := rt.Dial(tk, network, l.Addr().String())
				if err != nil {
					t.Error(err)
					return
				}
				defer c.Close()
				if sa, err := unix.Getsockname(c.Fd()); err == nil {
					local = sockaddrAddr(sa)
				}
				for _, s := range []string{"spam", "eggs"} {
					c.WriteString(tk, s+"\n")
					line, err := c.ReadLine(tk)
					if err != nil {
						t.Error(err)
						return
					}
					replies = append(replies, string(line))
				}
				c.CloseWrite(tk)
				if _, err := c.ReadLine(tk); err != io.EOF {
					t.Errorf("ReadLine after the server closed: %v, want EOF", err)
				}
			})
			runAll(t, rt)
			if want := []string{"SPAM", "EGGS"}; !slices.Equal(replies, want) {
				t.Errorf("%s: replies %q, want %q", network, replies, want)
			}
			if network == "tcp" && (peer == nil || local == nil || peer.String() != local.String()) {
				t.Errorf("Accept gave peer %v, the client is at %v", peer, local)
			}
			if err := l.Close(); err != nil {
				t.Error(err)
			}
			if network == "unix" {
				if _, err := os.Stat(addr); !os.IsNotExist(err) {
					t.Errorf("socket file after Close: %v", err)
				}
			}
		}
	})
}

func sockaddrAddr(sa unix.Sockaddr) net.Addr {
	if a, ok := sa.(*unix.SockaddrInet4); ok {
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	}
	return nil
}

// TestAcceptClosed checks Accept on a closed listener and Close of a
// listener a task is parked on in Accept: both give ErrClosed.
func TestAcceptClosed(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		l := listen(t, rt, "tcp", "127.0.0.1:0")
		var parkedErr, closedErr error
		rt.Go("acceptor", func(tk *lwtask.Task) { _, parkedErr = l.Accept(tk) })
		rt.Go("closer", func(tk *lwtask.Task) {
			if err := l.Close(); err != nil {
				t.Error(err)
			}
			_, closedErr = l.Accept(tk)
			if err := l.Close(); !errors.Is(err, lwtask.ErrClosed) {
				t.Errorf("second Close: %v, want ErrClosed", err)
			}
		})
		runAll(t, rt)
		for _, err := range []error{parkedErr, closedErr} {
			if !errors.Is(err, lwtask.ErrClosed) {
				t.Errorf("Accept: %v, want ErrClosed", err)
			}
		}
	})
}

// TestAcceptDeadline checks that Accept past the listener's deadline
// fails with a timeout, and that the listener then works on.
func TestAcceptDeadline(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		l := listen(t, rt, "tcp", "127.0.0.1:0")
		rt.Go("server", func(tk *lwtask.Task) {
			l.SetDeadline(time.Now().Add(time.Millisecond))
			if c, err := l.Accept(tk); !isTimeout(err) {
				t.Errorf("Accept past the deadline: %v, %v; want a timeout", c, err)
			}
			l.SetDeadline(time.Time{})
			rt.Go("client", func(tk *lwtask.Task) {
				if c, err := rt.Dial(tk, "tcp", l.Addr().String()); err == nil {
					c.Close()
				}
			})
			c, err := l.Accept(tk)
			if err != nil {
				t.Error(err)
				return
			}
			c.Close()
		})
		runAll(t, rt)
	})
}

// TestAdoptListener serves on a copy of a net.Listener, which stays open.
func TestAdoptListener(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		nl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer nl.Close()
		l, err := rt.AdoptListener(nl)
		if err != nil {
			t.Fatal(err)
		}
		if l.Addr().String() != nl.Addr().String() {
			t.Errorf("Addr %v, want %v", l.Addr(), nl.Addr())
		}
		rt.Go("server", func(tk *lwtask.Task) { echo(t, tk, l) })
		var reply string
		rt.Go("client", func(tk *lwtask.Task) {
			c, err := rt.Dial(tk, "tcp", l.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			c.WriteString(tk, "adopted\n")
			line, _ := c.ReadLine(tk)
			reply = string(line)
		})
		runAll(t, rt)
		if reply != "ADOPTED" {
			t.Errorf("reply %q", reply)
		}
		if err := l.Close(); err != nil {
			t.Error(err)
		}
		if err := nl.Close(); err != nil {
			t.Errorf("closing the original after the copy: %v", err)
		}
	})
}

// TestAdopt makes Files from an *os.File and from net.Conns; the originals
// stay open and are closed separately.
func TestAdopt(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer pr.Close()
		defer pw.Close()
		fromPipe, err := rt.Adopt(pr, "adopted pipe")
		if err != nil {
			t.Fatal(err)
		}
		defer fromPipe.Close()

		nl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer nl.Close()
		dialled, err := net.Dial("tcp", nl.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer dialled.Close()
		accepted, err := nl.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer accepted.Close()
		var files []*lwtask.File
		for _, c := range []net.Conn{dialled, accepted} {
			f, err := rt.Adopt(c.(syscall.Conn), "adopted conn")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			files = append(files, f)
		}

		var got []string
		rt.Go("pipe reader", func(tk *lwtask.Task) {
			buf := make([]byte, 16)
			n, err := fromPipe.Read(tk, buf)
			if err != nil {
				t.Error(err)
			}
			got = append(got, string(buf[:n]))
		})
		rt.Go("conn reader", func(tk *lwtask.Task) {
			buf := make([]byte, 16)
			n, err := files[1].Read(tk, buf)
			if err != nil {
				t.Error(err)
			}
			got = append(got, string(buf[:n]))
		})
		rt.Go("writer", func(tk *lwtask.Task) {
			files[0].Write(tk, []byte("over tcp"))
			if _, err := pw.Write([]byte("over os.Pipe")); err != nil {
				t.Error(err)
			}
		})
		runAll(t, rt)
		slices.Sort(got)
		if want := []string{"over os.Pipe", "over tcp"}; !slices.Equal(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
}

// TestDialErrors dials a closed port, a missing Unix socket and an
// unknown network.
func TestDialErrors(t *testing.T) {
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := nl.Addr().String()
	nl.Close()
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		missing := filepath.Join(t.TempDir(), "missing")
		rt.Go("dialler", func(tk *lwtask.Task) {
			if c, err := rt.Dial(tk, "tcp", closedPort); !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("Dial of a closed port: %v, %v; want ECONNREFUSED", c, err)
			}
			if c, err := rt.Dial(tk, "unix", missing); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Dial of a missing socket: %v, %v; want ENOENT", c, err)
			}
			if c, err := rt.Dial(tk, "udp", closedPort); err == nil {
				t.Errorf("Dial over udp: %v, want an error", c)
			}
		})
		runAll(t, rt)
	})
}

// TestPeerReset has the client reset the connection (SO_LINGER 0) while
// the server writes a lot: the server's write fails with ECONNRESET or
// EPIPE, and no SIGPIPE ends the test.
func TestPeerReset(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		l := listen(t, rt, "tcp", "127.0.0.1:0")
		var writeErr error
		rt.Go("server", func(tk *lwtask.Task) {
			c, err := l.Accept(tk)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			c.SetWriteDeadline(time.Now().Add(hangLimit))
			chunk := bytes.Repeat([]byte("spam"), 16<<10)
			for writeErr == nil {
				_, writeErr = c.Write(tk, chunk)
			}
		})
		rt.Go("client", func(tk *lwtask.Task) {
			c, err := rt.Dial(tk, "tcp", l.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := c.ReadFull(tk, make([]byte, 1000)); err != nil {
				t.Error(err)
			}
			if err := unix.SetsockoptLinger(c.Fd(), unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1}); err != nil {
				t.Error(err)
			}
			c.Close()
		})
		runAll(t, rt)
		if !errors.Is(writeErr, syscall.ECONNRESET) && !errors.Is(writeErr, syscall.EPIPE) {
			t.Fatalf("write to a reset connection: %v, want ECONNRESET or EPIPE", writeErr)
		}
	})
}

// TestBrokenPipe writes to a pipe whose reader has gone: EPIPE, not
// SIGPIPE.
func TestBrokenPipe(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		rd, wr := newPipe(t, rt)
		rd.Close()
		rt.Go("writer", func(tk *lwtask.Task) {
			if _, err := wr.Write(tk, []byte("spam")); !errors.Is(err, syscall.EPIPE) {
				t.Errorf("write to a pipe with no reader: %v, want EPIPE", err)
			}
		})
		runAll(t, rt)
	})
}

// TestPeerNeverReads has a server write to a client that never reads: the
// writer parks once the socket is full, and the other tasks go on.
func TestPeerNeverReads(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		l := listen(t, rt, "tcp", "127.0.0.1:0")
		var server *lwtask.Conn
		var writeErr error
		written := 0
		writer := rt.Go("writer", func(tk *lwtask.Task) {
			var err error
			if server, err = l.Accept(tk); err != nil {
				t.Error(err)
				return
			}
			chunk := make([]byte, 64<<10)
			for writeErr == nil {
				var n int
				n, writeErr = server.Write(tk, chunk)
				written += n
			}
		})
		var client *lwtask.Conn
		rt.Go("client", func(tk *lwtask.Task) {
			var err error
			if client, err = rt.Dial(tk, "tcp", l.Addr().String()); err != nil {
				t.Error(err)
			}
		})
		rd, wr := newPipe(t, rt)
		rt.Go("pinger", func(tk *lwtask.Task) {
			for writer.State() != task.Blocked || !strings.Contains(writer.Info().WaitingFor, "write") {
				tk.Yield()
			}
			before := written
			buf := make([]byte, 1)
			for i := range 100 {
				wr.Write(tk, []byte{byte(i)})
				if _, err := rd.Read(tk, buf); err != nil || buf[0] != byte(i) {
					t.Errorf("ping %d: %v", i, err)
				}
			}
			if written != before || writer.State() != task.Blocked {
				t.Errorf("the writer went on: %d bytes written, state %v", written-before, writer.State())
			}
			server.Close()
			client.Close()
		})
		runAll(t, rt)
		if !errors.Is(writeErr, lwtask.ErrClosed) {
			t.Fatalf("parked writer woke with %v, want ErrClosed", writeErr)
		}
	})
}

// TestFullDuplex has one task write a connection while another reads it,
// the peer echoing: the reader's implicit flushes must not disturb the
// writer's output.
func TestFullDuplex(t *testing.T) {
	const lines = 100_000
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		a, b := newSocketPair(t, rt)
		c, peer := lwtask.NewConn(a), lwtask.NewConn(b)
		rt.Go("echo", func(tk *lwtask.Task) {
			buf := make([]byte, 4096)
			for {
				n, err := peer.Read(tk, buf)
				if err != nil {
					peer.Flush(tk)
					peer.CloseWrite(tk)
					return
				}
				peer.Write(tk, buf[:n])
			}
		})
		rt.Go("writer", func(tk *lwtask.Task) {
			for i := range lines {
				if _, err := fmt.Fprintf(c.For(tk), "line %d\n", i); err != nil {
					t.Error(err)
					return
				}
			}
			if err := c.Flush(tk); err != nil {
				t.Error(err)
			}
			c.CloseWrite(tk)
		})
		got := 0
		rt.Go("reader", func(tk *lwtask.Task) {
			for ; ; got++ {
				line, err := c.ReadLine(tk)
				if err == io.EOF {
					return
				}
				if want := fmt.Sprintf("line %d", got); err != nil || string(line) != want {
					t.Errorf("read %q, %v; want %q", line, err, want)
					c.Close()
					return
				}
			}
		})
		runAll(t, rt)
		if got != lines {
			t.Fatalf("read %d lines back, want %d", got, lines)
		}
	})
}

// TestConcurrentFlush has two tasks write one connection, each flushing
// after every line, while the socket is full more often than not: every
// line arrives whole, each writer's in order.
func TestConcurrentFlush(t *testing.T) {
	const lines = 100
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		a, b := newSocketPair(t, rt)
		c, peer := lwtask.NewConn(a), lwtask.NewConn(b)
		peer.MaxLine = 8192
		writers := 2
		for w := range writers {
			rt.Go(fmt.Sprint("writer ", w), func(tk *lwtask.Task) {
				pad := strings.Repeat(fmt.Sprint(w), 4000)
				for i := range lines {
					c.WriteString(tk, fmt.Sprintf("%d %d %s\n", w, i, pad))
					if err := c.Flush(tk); err != nil {
						t.Error(err)
						return
					}
				}
				if writers--; writers == 0 {
					c.CloseWrite(tk)
				}
			})
		}
		next := make([]int, 2)
		rt.Go("reader", func(tk *lwtask.Task) {
			for {
				line, err := peer.ReadLine(tk)
				if err == io.EOF {
					return
				}
				var w, i int
				var pad string
				if _, serr := fmt.Sscanf(string(line), "%d %d %s", &w, &i, &pad); err != nil || serr != nil ||
					w < 0 || w > 1 || i != next[w] || pad != strings.Repeat(fmt.Sprint(w), 4000) {
					t.Errorf("line %.40q..., %v; want writer %d's line %d or the other's", line, err, w, next[w])
					return
				}
				next[w]++
			}
		})
		runAll(t, rt)
		if next[0] != lines || next[1] != lines {
			t.Fatalf("read %v lines from the writers, want %d each", next, lines)
		}
	})
}

// TestAcceptEMFILE runs the process out of descriptors with a connection
// pending: Accept backs off, sleeping longer each time rather than
// spinning, and once descriptors are back it accepts and serves the
// connection.
func TestAcceptEMFILE(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		l := listen(t, rt, "tcp", "127.0.0.1:0")
		client, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		if _, err := client.Write([]byte("ping\n")); err != nil {
			t.Fatal(err)
		}

		var lim unix.Rlimit
		if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatal(err)
		}
		restore := func() {
			if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
				t.Error(err)
			}
		}
		t.Cleanup(restore)
		var retries []time.Duration
		var firstRetry, lastRetry time.Time
		l.OnTemporaryError = func(err error, retryIn time.Duration) {
			if !errors.Is(err, syscall.EMFILE) {
				t.Errorf("temporary error %v, want EMFILE", err)
			}
			if retries == nil {
				firstRetry = time.Now()
			}
			retries = append(retries, retryIn)
			if len(retries) == 4 {
				lastRetry = time.Now()
				restore()
			}
		}
		var request string
		rt.Go("server", func(tk *lwtask.Task) {
			c, err := l.Accept(tk)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			line, err := c.ReadLine(tk)
			if err != nil {
				t.Error(err)
			}
			request = string(line)
			c.WriteString(tk, "pong\n")
			if err := c.Flush(tk); err != nil {
				t.Error(err)
			}
		})
		lowerLimit(t)
		runAll(t, rt)
		restore()

		if len(retries) != 4 || !slices.IsSorted(retries) || retries[0] <= 0 || retries[0] == retries[3] {
			t.Fatalf("Accept retried after %v, want 4 growing waits", retries)
		}
		// Each retry came after the wait announced before it: no spinning.
		if waited, announced := lastRetry.Sub(firstRetry), retries[0]+retries[1]+retries[2]; waited < announced {
			t.Fatalf("4 accepts in %v, but the first 3 back-offs add up to %v", waited, announced)
		}
		client.SetReadDeadline(time.Now().Add(hangLimit))
		reply, err := io.ReadAll(client)
		if request != "ping" || string(reply) != "pong\n" || err != nil {
			t.Fatalf("served %q, replied %q, %v", request, reply, err)
		}
	})
}

// lowerLimit lowers the soft descriptor limit to the lowest free
// descriptor number, so that the next descriptor opened fails with EMFILE.
func lowerLimit(t *testing.T) {
	t.Helper()
	free, err := unix.Dup(0)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(free)
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	setLimit(&lim.Cur, free)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("cannot lower the descriptor limit: %v", err)
	}
}

// setLimit sets an rlimit field, whose type differs between systems.
func setLimit[T int64 | uint64](field *T, n int) { *field = T(n) }

// TestCloseDuringAcceptBackoff closes the listener while Accept waits out
// an EMFILE back-off: Accept returns ErrClosed at once rather than after
// its sleep (the back-off is a second long by then).
func TestCloseDuringAcceptBackoff(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		l := listen(t, rt, "tcp", "127.0.0.1:0")
		client, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		var lim unix.Rlimit
		if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatal(err)
		}
		restore := func() { unix.Setrlimit(unix.RLIMIT_NOFILE, &lim) }
		t.Cleanup(restore)
		backoffs := 0
		l.OnTemporaryError = func(err error, retryIn time.Duration) {
			backoffs++
			restore() // descriptors are back, but Close comes first
		}
		var acceptErr error
		rt.Go("server", func(tk *lwtask.Task) {
			_, acceptErr = l.Accept(tk)
		})
		rt.Go("closer", func(tk *lwtask.Task) {
			for backoffs == 0 {
				tk.Yield()
			}
			l.Close()
		})
		lowerLimit(t)
		runAll(t, rt)
		if backoffs != 1 || !errors.Is(acceptErr, lwtask.ErrClosed) {
			t.Fatalf("after %d back-offs Accept returned %v, want ErrClosed", backoffs, acceptErr)
		}
	})
}
