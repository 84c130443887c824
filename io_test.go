package lwtask_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lwtask/lwtask/internal/fdtest"
	"github.com/lwtask/lwtask/internal/tasktest"
	"golang.org/x/sys/unix"

	"github.com/lwtask/lwtask"
	"github.com/lwtask/lwtask/fdqueue/poller"
	"github.com/lwtask/lwtask/task"
)

// Behaviour tests of the event loop and of the I/O that tasks do through
// it, every one run over each poller backend, on real pipes, sockets and
// processes.

// eachPoller runs test once per poller backend, each with a runtime of its
// own, and checks that the test leaves no descriptor open. The best
// backend runs twice: level-triggered, and edge-triggered ("-edge") where
// it has that mode.
func eachPoller(t *testing.T, test func(t *testing.T, rt *lwtask.Runtime)) {
	t.Helper()
	eachPollerWith(t, nil, test)
}

// eachPollerWith is eachPoller with more options for every runtime.
func eachPollerWith(t *testing.T, more []lwtask.Option, test func(t *testing.T, rt *lwtask.Runtime)) {
	t.Helper()
	names := poller.Names()
	if p, err := poller.New(names[0]); err == nil {
		if p.CanEdge() {
			names = append(names, names[0]+"-edge")
		}
		p.Close()
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			checkFds(t)
			backend, edge := strings.CutSuffix(name, "-edge")
			opts := []lwtask.Option{lwtask.WithPoller(backend)}
			if edge {
				opts = append(opts, lwtask.WithEdgeTriggered())
			}
			rt, err := lwtask.New(append(opts, more...)...)
			if err != nil {
				t.Fatal(err)
			}
			if rt.Poller() != backend {
				t.Fatalf("Poller() = %q, want %q", rt.Poller(), backend)
			}
			t.Cleanup(func() {
				if err := rt.Close(); err != nil && !errors.Is(err, poller.ErrClosed) {
					t.Error(err)
				}
			})
			test(t, rt)
		})
	}
}

// hangLimit bounds a Run that should end but does not: the watchdog then
// stops it, and the test fails instead of hanging.
const hangLimit = 20 * time.Second

// runAll runs rt to the end and fails the test if Run fails or hangs.
func runAll(t *testing.T, rt *lwtask.Runtime) {
	t.Helper()
	if err := runBounded(rt); err != nil {
		t.Fatal(err)
	}
}

// runBounded runs rt under a watchdog that stops it after hangLimit.
func runBounded(rt *lwtask.Runtime) error { return tasktest.RunBounded(rt, hangLimit) }

// newPipe makes a pipe whose ends are closed when the test ends, if the
// test has not closed them.
func newPipe(t *testing.T, rt *lwtask.Runtime) (rd, wr *lwtask.File) {
	t.Helper()
	rd, wr, err := rt.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rd.Close(); wr.Close() })
	return rd, wr
}

// newSocketPair makes a connected pair of Unix stream sockets, closed when
// the test ends if the test has not closed them.
func newSocketPair(t *testing.T, rt *lwtask.Runtime) (a, b *lwtask.File) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	var files [2]*lwtask.File
	for i, fd := range fds {
		if files[i], err = rt.NewFile(fd, fmt.Sprint("socket ", i)); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { files[0].Close(); files[1].Close() })
	return files[0], files[1]
}

// fillUp writes into f, without parking, until it would block.
func fillUp(t *testing.T, f *lwtask.File) {
	t.Helper()
	fdtest.Fill(t, f.Fd())
}

// checkFds fails the test if it ends with more or fewer descriptors open
// than it began with. It needs /proc/self/fd (Linux); elsewhere it checks
// nothing.
func checkFds(t *testing.T) {
	t.Helper()
	warmUp.Do(func() {
		// The Go runtime opens its own poller on first use, for good.
		if l, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
			l.Close()
		}
	})
	before, err := openFds()
	if err != nil {
		return
	}
	t.Cleanup(func() {
		after, err := openFds()
		if err != nil {
			t.Error(err)
			return
		}
		for fd, target := range after {
			if before[fd] != target {
				t.Errorf("descriptor %s (%s) left open", fd, target)
			}
		}
		for fd, target := range before {
			if after[fd] != target {
				t.Errorf("descriptor %s (%s) closed by the test", fd, target)
			}
		}
	})
}

var warmUp sync.Once

// openFds maps this process's open descriptors to what they refer to.
func openFds() (map[string]string, error) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	fds := make(map[string]string)
	for _, e := range entries {
		// The directory's own descriptor is gone by the time of the
		// Readlink, and shows as an error: skip it.
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && !strings.HasPrefix(target, "/proc/") {
			fds[e.Name()] = target
		}
	}
	return fds, nil
}

func TestPipeReadWrite(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		rd, wr := newPipe(t, rt)
		var got []byte
		var readErr error
		rt.Go("reader", func(tk *lwtask.Task) {
			buf := make([]byte, 3)
			for {
				n, err := rd.Read(tk, buf)
				got = append(got, buf[:n]...)
				if err != nil {
					readErr = err
					return
				}
			}
		})
		rt.Go("writer", func(tk *lwtask.Task) {
			for _, s := range []string{"spam", "", "eggs"} {
				if n, err := wr.Write(tk, []byte(s)); n != len(s) || err != nil {
					t.Errorf("Write(%q) = %d, %v", s, n, err)
				}
				tk.Yield()
			}
			if err := wr.Close(); err != nil {
				t.Error(err)
			}
		})
		runAll(t, rt)
		if string(got) != "spameggs" || readErr != io.EOF {
			t.Fatalf("read %q then %v, want %q then EOF", got, readErr, "spameggs")
		}
		// A read at end of file parks nothing and keeps saying so.
		rt.Go("again", func(tk *lwtask.Task) {
			if n, err := rd.Read(tk, make([]byte, 1)); n != 0 || err != io.EOF {
				t.Errorf("Read after EOF = %d, %v", n, err)
			}
		})
		runAll(t, rt)
	})
}

// TestLargeWrite writes 1 MiB into a pipe in one call while another task
// reads it: the writer parks each time the pipe is full and goes on where
// it left off.
func TestLargeWrite(t *testing.T) {
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i * 7 / 3)
	}
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		rd, wr := newPipe(t, rt)
		var got bytes.Buffer
		sawParked := false
		writer := rt.Go("writer", func(tk *lwtask.Task) {
			defer wr.Close()
			if n, err := wr.Write(tk, data); n != len(data) || err != nil {
				t.Errorf("Write = %d, %v", n, err)
			}
		})
		rt.Go("reader", func(tk *lwtask.Task) {
			buf := make([]byte, 4096)
			for {
				if writer.State() == task.Blocked && strings.Contains(writer.Info().WaitingFor, "write") {
					sawParked = true
				}
				n, err := rd.Read(tk, buf)
				got.Write(buf[:n])
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
		runAll(t, rt)
		if !bytes.Equal(got.Bytes(), data) {
			t.Fatalf("read %d bytes, not the %d written", got.Len(), len(data))
		}
		if !sawParked {
			t.Fatal("the writer never parked on the full pipe")
		}
	})
}

// TestSocketHalfClose checks CloseWrite: the peer reads to EOF and can
// still reply.
func TestSocketHalfClose(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		a, b := newSocketPair(t, rt)
		var reply string
		rt.Go("client", func(tk *lwtask.Task) {
			if _, err := a.Write(tk, []byte("request")); err != nil {
				t.Error(err)
			}
			if err := a.CloseWrite(); err != nil {
				t.Error(err)
			}
			got, err := io.ReadAll(a.For(tk))
			if err != nil {
				t.Error(err)
			}
			reply = string(got)
		})
		rt.Go("server", func(tk *lwtask.Task) {
			got, err := io.ReadAll(b.For(tk))
			if err != nil {
				t.Error(err)
			}
			fmt.Fprintf(b.For(tk), "reply to %s", got)
			b.Close()
		})
		runAll(t, rt)
		if reply != "reply to request" {
			t.Fatalf("reply %q", reply)
		}
	})
}

// readLines reads lines from c until an error, which ends the result.
func readLines(tk *lwtask.Task, c *lwtask.Conn) []string {
	var out []string
	for {
		line, err := c.ReadLine(tk)
		switch {
		case errors.Is(err, lwtask.ErrLineTooLong):
			out = append(out, "ErrLineTooLong")
			// The line is left unread: the next call says so again.
			if _, err := c.ReadLine(tk); !errors.Is(err, lwtask.ErrLineTooLong) {
				out = append(out, fmt.Sprintf("then %v", err))
			}
			return out
		case err == io.EOF:
			return append(out, "EOF")
		case err != nil:
			return append(out, err.Error())
		}
		out = append(out, string(line))
	}
}

func TestReadLine(t *testing.T) {
	x4096, y4097 := strings.Repeat("x", 4096), strings.Repeat("y", 4097)
	long := strings.Repeat("z", 50_000)
	cases := []struct {
		name    string
		input   string
		maxLine int
		want    []string
	}{
		{"endings", "one\ntwo\r\nthree\n", 0, []string{"one", "two", "three", "EOF"}},
		{"last line unterminated", "one\ntwo", 0, []string{"one", "two", "EOF"}},
		{"empty lines", "\n\r\n\n", 0, []string{"", "", "", "EOF"}},
		{"empty input", "", 0, []string{"EOF"}},
		{"lone CR kept", "a\rb\nc\r", 0, []string{"a\rb", "c\r", "EOF"}},
		{"at MaxLine", "abcd\r\nabcd\nabcde\nnext\n", 4, []string{"abcd", "abcd", "ErrLineTooLong"}},
		{"CRLF past MaxLine", "abcd\r\nabcde\r\n", 4, []string{"abcd", "ErrLineTooLong"}},
		{"too long at EOF", "ab\nabcde", 4, []string{"ab", "ErrLineTooLong"}},
		{"default MaxLine", x4096 + "\n" + y4097 + "\n", 0, []string{x4096, "ErrLineTooLong"}},
		{"longer than a buffer", long + "\r\nend", 60_000, []string{long, "end", "EOF"}},
	}
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		for _, tc := range cases {
			// Written at once, and a byte at a time with the reader
			// running in between.
			for _, chunk := range []int{len(tc.input), 1} {
				rd, wr := newPipe(t, rt)
				c := lwtask.NewConn(rd)
				c.MaxLine = tc.maxLine
				var got []string
				rt.Go("reader", func(tk *lwtask.Task) { got = readLines(tk, c) })
				rt.Go("writer", func(tk *lwtask.Task) {
					defer wr.Close()
					for in := tc.input; len(in) > 0; {
						n := min(chunk, len(in))
						if _, err := wr.Write(tk, []byte(in[:n])); err != nil {
							t.Error(err)
							return
						}
						in = in[n:]
						tk.Yield()
					}
				})
				runAll(t, rt)
				c.Close()
				if !slices.Equal(got, tc.want) {
					t.Errorf("%s, chunks of %d: got %.80q, want %.80q", tc.name, chunk, got, tc.want)
				}
			}
		}
	})
}

func TestReadFull(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 10_000) // past the buffer, read directly
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		rd, wr := newPipe(t, rt)
		c := lwtask.NewConn(rd)
		rt.Go("writer", func(tk *lwtask.Task) {
			for _, s := range []string{"012", "3456", "789abc"} {
				wr.Write(tk, []byte(s))
				tk.Yield()
			}
			wr.Write(tk, big)
			wr.Write(tk, []byte("xyz"))
			wr.Close()
		})
		rt.Go("reader", func(tk *lwtask.Task) {
			buf := make([]byte, 10)
			if n, err := c.ReadFull(tk, buf); n != 10 || err != nil || string(buf) != "0123456789" {
				t.Errorf("ReadFull = %d, %v, %q", n, err, buf)
			}
			if n, err := c.ReadFull(tk, buf[:2]); n != 2 || err != nil || string(buf[:2]) != "ab" {
				t.Errorf("ReadFull = %d, %v, %q", n, err, buf[:2])
			}
			c.ReadFull(tk, buf[:1]) // "c"
			got := make([]byte, len(big))
			if n, err := c.ReadFull(tk, got); n != len(big) || err != nil || !bytes.Equal(got, big) {
				t.Errorf("ReadFull of %d bytes = %d, %v", len(big), n, err)
			}
			if n, err := c.ReadFull(tk, buf); n != 3 || err != io.ErrUnexpectedEOF {
				t.Errorf("ReadFull past the end = %d, %v; want 3, ErrUnexpectedEOF", n, err)
			}
			if n, err := c.ReadFull(tk, buf); n != 0 || err != io.EOF {
				t.Errorf("ReadFull at the end = %d, %v; want 0, EOF", n, err)
			}
		})
		runAll(t, rt)
	})
}

// TestConnScanner reads lines with bufio.Scanner through Conn.For, and
// writes them through it with fmt.
func TestConnScanner(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		a, b := newSocketPair(t, rt)
		client, server := lwtask.NewConn(a), lwtask.NewConn(b)
		var got []string
		rt.Go("server", func(tk *lwtask.Task) {
			sc := bufio.NewScanner(server.For(tk))
			for sc.Scan() {
				got = append(got, sc.Text())
			}
			if err := sc.Err(); err != nil {
				t.Error(err)
			}
		})
		rt.Go("client", func(tk *lwtask.Task) {
			w := client.For(tk)
			for i := range 1000 {
				fmt.Fprintf(w, "line %d\r\n", i)
			}
			if err := w.Flush(); err != nil {
				t.Error(err)
			}
			client.CloseWrite(tk)
		})
		runAll(t, rt)
		if len(got) != 1000 || got[0] != "line 0" || got[999] != "line 999" {
			t.Fatalf("scanned %d lines: %.3q...", len(got), got)
		}
	})
}

type message struct {
	Seq  int
	Text string
}

// TestJSONRoundTrip sends JSON requests through Conn.For and gets them
// back. Requests are not flushed by hand: a read that waits flushes them.
// Big messages make json.Decoder read more than a buffer at a time.
func TestJSONRoundTrip(t *testing.T) {
	for _, size := range []int{10, 20_000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
				a, b := newSocketPair(t, rt)
				client, server := lwtask.NewConn(a), lwtask.NewConn(b)
				rt.Go("server", func(tk *lwtask.Task) {
					rw := server.For(tk)
					dec, enc := json.NewDecoder(rw), json.NewEncoder(rw)
					for {
						var m message
						if err := dec.Decode(&m); err != nil {
							if err != io.EOF {
								t.Error(err)
							}
							break
						}
						m.Seq++
						enc.Encode(m)
					}
					if err := rw.Flush(); err != nil {
						t.Error(err)
					}
				})
				var replies []message
				rt.Go("client", func(tk *lwtask.Task) {
					rw := client.For(tk)
					dec, enc := json.NewDecoder(rw), json.NewEncoder(rw)
					for i := range 5 {
						enc.Encode(message{Seq: 10 * i, Text: strings.Repeat("spam ", size/5)})
						var m message
						if err := dec.Decode(&m); err != nil {
							t.Error(err)
							return
						}
						replies = append(replies, m)
					}
					client.CloseWrite(tk) // flushes the last message
				})
				runAll(t, rt)
				if len(replies) != 5 {
					t.Fatalf("%d replies, want 5", len(replies))
				}
				for i, m := range replies {
					if m.Seq != 10*i+1 || len(m.Text) != size {
						t.Errorf("reply %d: seq %d, %d bytes of text", i, m.Seq, len(m.Text))
					}
				}
			})
		})
	}
}

// TestFileFor uses a File from the standard library's helpers.
func TestFileFor(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		rd, wr := newPipe(t, rt)
		var got bytes.Buffer
		rt.Go("reader", func(tk *lwtask.Task) {
			if _, err := io.Copy(&got, rd.For(tk)); err != nil {
				t.Error(err)
			}
		})
		rt.Go("writer", func(tk *lwtask.Task) {
			defer wr.Close()
			w := bufio.NewWriterSize(wr.For(tk), 100)
			for i := range 10_000 {
				fmt.Fprintln(w, i)
			}
			if err := w.Flush(); err != nil {
				t.Error(err)
			}
		})
		runAll(t, rt)
		lines := strings.Split(strings.TrimSuffix(got.String(), "\n"), "\n")
		if len(lines) != 10_000 || lines[9_999] != "9999" {
			t.Fatalf("read %d lines", len(lines))
		}
	})
}

// TestWakeOrder parks tasks on three pipes and makes the pipes readable in
// turn: each reader wakes after the write that concerns it, in the order
// of the writes, not of the descriptors.
func TestWakeOrder(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		var log []string
		var writers []*lwtask.File
		for _, name := range []string{"A", "B", "C"} {
			rd, wr := newPipe(t, rt)
			writers = append(writers, wr)
			rt.Go("reader "+name, func(tk *lwtask.Task) {
				buf := make([]byte, 8)
				n, err := rd.Read(tk, buf)
				if err != nil {
					t.Error(err)
				}
				log = append(log, name+" read "+string(buf[:n]))
			})
		}
		rt.Go("writer", func(tk *lwtask.Task) {
			for i, name := range []string{"C", "A", "B"} {
				wr := writers[strings.Index("ABC", name)]
				wr.Write(tk, []byte{'0' + byte(i)})
				log = append(log, "wrote "+name)
				tk.Yield()
			}
		})
		runAll(t, rt)
		want := []string{"wrote C", "wrote A", "C read 0", "wrote B", "A read 1", "B read 2"}
		if !slices.Equal(log, want) {
			t.Fatalf("got %q\nwant %q", log, want)
		}
	})
}

// TestSameDescriptorFIFO parks several readers on one pipe: they are woken
// in the order they parked, one per event.
func TestSameDescriptorFIFO(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		rd, wr := newPipe(t, rt)
		var got []string
		for i := range 5 {
			rt.Go(fmt.Sprint("reader ", i), func(tk *lwtask.Task) {
				buf := make([]byte, 1)
				if _, err := rd.Read(tk, buf); err != nil {
					t.Error(err)
				}
				got = append(got, fmt.Sprintf("%d:%s", i, buf))
			})
		}
		rt.Go("writer", func(tk *lwtask.Task) { wr.Write(tk, []byte("abcde")) })
		runAll(t, rt)
		if want := []string{"0:a", "1:b", "2:c", "3:d", "4:e"}; !slices.Equal(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
}

// TestEssayOrderWithIO runs the essay's three people while two other tasks
// play ping-pong over pipes: the people take their turns exactly as in the
// essay, and the whole trace is the same with every backend.
func TestEssayOrderWithIO(t *testing.T) {
	essay := []string{
		"John running", "Michael running", "Terry running",
		"John running", "Michael running", "Terry running",
		"Michael running", "Terry running",
		"Terry running",
	}
	var traces [][]string
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		var trace, people []string
		say := func(s string) {
			trace = append(trace, s)
			if strings.HasSuffix(s, "running") {
				people = append(people, s)
			}
		}
		ping, pingW := newPipe(t, rt)
		pong, pongW := newPipe(t, rt)
		rt.Go("pinger", func(tk *lwtask.Task) {
			buf := make([]byte, 1)
			for i := range 3 {
				pingW.Write(tk, []byte{'a' + byte(i)})
				say("ping")
				pong.Read(tk, buf)
				say("pinger got " + string(buf))
			}
		})
		for _, p := range []struct {
			name  string
			count int
		}{{"John", 2}, {"Michael", 3}, {"Terry", 4}} {
			rt.Go(p.name, func(tk *lwtask.Task) {
				for range p.count {
					say(p.name + " running")
					tk.Yield()
				}
			})
		}
		rt.Go("ponger", func(tk *lwtask.Task) {
			buf := make([]byte, 1)
			for range 3 {
				ping.Read(tk, buf)
				say("ponger got " + string(buf))
				pongW.Write(tk, bytes.ToUpper(buf))
			}
		})
		runAll(t, rt)
		if !slices.Equal(people, essay) {
			t.Fatalf("people ran\n%q\nwant the essay's\n%q", people, essay)
		}
		traces = append(traces, trace)
		if !slices.Equal(trace, traces[0]) {
			t.Fatalf("trace\n%q\ndiffers from the first backend's\n%q", trace, traces[0])
		}
	})
}

// TestFairness checks that a task yielding in a loop does not starve the
// descriptors: a reader parked on a pipe wakes within a round or two of
// the write, counted in the busy task's turns, and so does a sleeper.
func TestFairness(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		rd, wr := newPipe(t, rt)
		turns, wroteAt, readAt := 0, -1, -1
		slept := false
		rt.Go("reader", func(tk *lwtask.Task) {
			if _, err := rd.Read(tk, make([]byte, 1)); err != nil {
				t.Error(err)
			}
			readAt = turns
		})
		rt.Go("sleeper", func(tk *lwtask.Task) {
			tk.Sleep(time.Millisecond)
			slept = true
		})
		rt.Go("busy", func(tk *lwtask.Task) {
			for readAt < 0 || !slept {
				turns++
				if turns == 10 {
					wr.Write(tk, []byte("x"))
					wroteAt = turns
				}
				tk.Yield()
			}
		})
		runAll(t, rt)
		if gap := readAt - wroteAt; wroteAt < 0 || gap < 0 || gap > 2 {
			t.Fatalf("reader woke %d turns after the write (turn %d, read at %d), want at most 2", gap, wroteAt, readAt)
		}
	})
}

// TestCloseWakesParked closes a socket while one task is parked reading
// it and another writing it: both wake with ErrClosed, and every later
// call says ErrClosed too.
func TestCloseWakesParked(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		a, _ := newSocketPair(t, rt)
		fillUp(t, a)
		var readErr, writeErr error
		rt.Go("reader", func(tk *lwtask.Task) { _, readErr = a.Read(tk, make([]byte, 10)) })
		rt.Go("writer", func(tk *lwtask.Task) { _, writeErr = a.Write(tk, []byte("more")) })
		rt.Go("closer", func(tk *lwtask.Task) {
			if n := rt.FdQueues().Parked(); n != 2 {
				t.Errorf("%d tasks parked, want 2", n)
			}
			if err := a.Close(); err != nil {
				t.Error(err)
			}
			_, err1 := a.Read(tk, make([]byte, 1))
			_, err2 := a.Write(tk, []byte("x"))
			_, err3 := lwtask.NewConn(a).ReadLine(tk)
			for i, err := range []error{err1, err2, err3, a.Close()} {
				if !errors.Is(err, lwtask.ErrClosed) {
					t.Errorf("call %d after Close: %v, want ErrClosed", i, err)
				}
			}
		})
		runAll(t, rt)
		var pe *os.PathError
		for _, err := range []error{readErr, writeErr} {
			if !errors.Is(err, lwtask.ErrClosed) || !errors.As(err, &pe) {
				t.Errorf("parked task woke with %v, want ErrClosed in an *os.PathError", err)
			}
		}
	})
}

// TestReusedDescriptor closes a pipe whose open file lives on in a
// duplicate and opens another that gets the same number: a task waiting on
// the new one never sees the old one's data.
func TestReusedDescriptor(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		oldR, oldW := newPipe(t, rt)
		keep, err := unix.Dup(oldR.Fd())
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(keep)
		number := oldR.Fd()
		var oldErr error
		rt.Go("old reader", func(tk *lwtask.Task) { _, oldErr = oldR.Read(tk, make([]byte, 1)) })
		rt.Go("main", func(tk *lwtask.Task) {
			oldR.Close()
			newR, newW, err := rt.Pipe()
			if err != nil {
				t.Error(err)
				return
			}
			defer func() { newR.Close(); newW.Close() }()
			if newR.Fd() != number {
				t.Errorf("new pipe got descriptor %d, not the reused %d", newR.Fd(), number)
			}
			wakes, got := 0, ""
			rt.Go("new reader", func(tk *lwtask.Task) {
				for got == "" {
					if err := rt.FdQueues().WaitReadable(tk, newR.Fd(), time.Time{}); err != nil {
						t.Error(err)
						return
					}
					wakes++
					buf := make([]byte, 8)
					if n, err := newR.Read(tk, buf); err == nil {
						got = string(buf[:n])
					}
				}
			})
			tk.Yield()
			oldW.Write(tk, []byte("old")) // readable through keep alone
			for range 5 {
				tk.Yield()
			}
			if wakes != 0 {
				t.Errorf("new reader woken %d times by the old pipe", wakes)
			}
			newW.Write(tk, []byte("new"))
			for got == "" {
				tk.Yield()
			}
			if wakes != 1 || got != "new" {
				t.Errorf("new reader woken %d times, read %q", wakes, got)
			}
		})
		runAll(t, rt)
		if !errors.Is(oldErr, lwtask.ErrClosed) {
			t.Fatalf("old reader woke with %v, want ErrClosed", oldErr)
		}
	})
}

// timeoutError is how callers that do not know lwtask test for timeouts.
type timeoutError interface{ Timeout() bool }

func isTimeout(err error) bool {
	var te timeoutError
	return errors.Is(err, lwtask.ErrTimeout) && os.IsTimeout(err) && errors.As(err, &te) && te.Timeout()
}

// TestDeadlines checks read and write deadlines: past them calls fail with
// a timeout, and the File works on once the deadline is lifted.
func TestDeadlines(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		rd, wr := newPipe(t, rt)
		var timedOut lwtask.Queue
		rt.Go("reader", func(tk *lwtask.Task) {
			rd.SetReadDeadline(time.Now().Add(2 * time.Millisecond))
			if n, err := rd.Read(tk, make([]byte, 8)); n != 0 || !isTimeout(err) {
				t.Errorf("Read past the deadline = %d, %v; want a timeout", n, err)
			}
			c := lwtask.NewConn(rd)
			if _, err := c.ReadLine(tk); !isTimeout(err) {
				t.Errorf("ReadLine past the deadline: %v; want a timeout", err)
			}
			timedOut.Unblock()
			rd.SetDeadline(time.Time{})
			line, err := c.ReadLine(tk)
			if string(line) != "after the timeout" || err != nil {
				t.Errorf("ReadLine = %q, %v", line, err)
			}
		})
		rt.Go("writer", func(tk *lwtask.Task) {
			tk.Wait(&timedOut)
			if _, err := wr.Write(tk, []byte("after the timeout\n")); err != nil {
				t.Error(err)
			}
		})
		runAll(t, rt)

		// A full pipe and nobody reading: the write times out.
		fillUp(t, wr)
		rt.Go("writer", func(tk *lwtask.Task) {
			defer wr.Close()
			wr.SetWriteDeadline(time.Now().Add(2 * time.Millisecond))
			if n, err := wr.Write(tk, []byte("spam")); n != 0 || !isTimeout(err) {
				t.Errorf("Write past the deadline = %d, %v; want a timeout", n, err)
			}
			// Someone drains the pipe, and the next write goes through.
			timedOut.Unblock()
			wr.SetWriteDeadline(time.Now().Add(hangLimit))
			if n, err := wr.Write(tk, []byte("spam")); n != 4 || err != nil {
				t.Errorf("Write after the timeout = %d, %v", n, err)
			}
		})
		rt.Go("drainer", func(tk *lwtask.Task) {
			tk.Wait(&timedOut)
			io.Copy(io.Discard, rd.For(tk))
		})
		runAll(t, rt)
	})
}

// TestSleep checks that a sleep lasts at least as long as asked, while a
// task parked on a descriptor is served meanwhile.
func TestSleep(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		rd, wr := newPipe(t, rt)
		var log []string
		rt.Go("sleeper", func(tk *lwtask.Task) {
			start := time.Now()
			tk.Sleep(10 * time.Millisecond)
			if d := time.Since(start); d < 10*time.Millisecond {
				t.Errorf("Sleep(10ms) returned after %v", d)
			}
			log = append(log, "slept")
		})
		rt.Go("reader", func(tk *lwtask.Task) {
			rd.Read(tk, make([]byte, 1))
			log = append(log, "read")
		})
		rt.Go("writer", func(tk *lwtask.Task) { wr.Write(tk, []byte("x")) })
		runAll(t, rt)
		if want := []string{"read", "slept"}; !slices.Equal(log, want) {
			t.Fatalf("got %q, want %q", log, want)
		}
	})
}

// TestTimerOrder puts many tasks to sleep with deadlines in random order:
// they wake in the order of their deadlines.
func TestTimerOrder(t *testing.T) {
	const n = 300
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		var got []int
		never := lwtask.Queue{Label: "never"}
		base := time.Now().Add(5 * time.Millisecond)
		for _, i := range rand.Perm(n) {
			deadline := base.Add(time.Duration(i) * 20 * time.Microsecond)
			rt.Go(fmt.Sprint("sleeper ", i), func(tk *lwtask.Task) {
				if err := tk.WaitUntil(&never, deadline); !errors.Is(err, lwtask.ErrTimeout) {
					t.Error(err)
				}
				got = append(got, i)
			})
		}
		runAll(t, rt)
		if len(got) != n || !slices.IsSorted(got) {
			t.Fatalf("woke in order %v", got)
		}
	})
}

// TestPostFromGoroutines has 100 goroutines each post the creation of a
// task while a task waits on a pipe for the last of them.
func TestPostFromGoroutines(t *testing.T) {
	const n = 100
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		rd, wr := newPipe(t, rt)
		ran := 0
		rt.Go("waiter", func(tk *lwtask.Task) {
			if _, err := rd.Read(tk, make([]byte, 1)); err != nil {
				t.Error(err)
			}
		})
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- rt.Post(func() {
					rt.Go(fmt.Sprint("posted ", i), func(tk *lwtask.Task) {
						tk.Yield()
						if ran++; ran == n {
							wr.Write(tk, []byte("x"))
						}
					})
				})
			}()
		}
		runAll(t, rt)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		if ran != n {
			t.Fatalf("%d posted tasks ran, want %d", ran, n)
		}
	})
}

// TestStopWhileParked stops the runtime from another goroutine while its
// tasks are parked on descriptors, sleeping and waiting on a queue: Run
// returns nil and every task has ended, through its deferred calls.
func TestStopWhileParked(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		rd, _ := newPipe(t, rt)
		a, _ := newSocketPair(t, rt)
		fillUp(t, a)
		ended := 0
		var q lwtask.Queue
		bodies := map[string]func(tk *lwtask.Task){
			"reader":  func(tk *lwtask.Task) { rd.Read(tk, make([]byte, 1)) },
			"writer":  func(tk *lwtask.Task) { a.Write(tk, []byte("x")) },
			"sleeper": func(tk *lwtask.Task) { tk.Sleep(time.Hour) },
			"waiter":  func(tk *lwtask.Task) { tk.Wait(&q) },
		}
		for name, body := range bodies {
			rt.Go(name, func(tk *lwtask.Task) {
				defer func() { ended++ }()
				body(tk)
				t.Errorf("%s woke", name)
			})
		}
		parked := make(chan struct{})
		rt.Go("signal", func(tk *lwtask.Task) {
			defer func() { ended++ }()
			tk.Yield() // the others are parked by now
			if n := rt.FdQueues().Parked(); n != 2 {
				t.Errorf("%d tasks parked on descriptors, want 2", n)
			}
			close(parked)
			tk.Sleep(time.Hour)
		})
		go func() {
			<-parked
			rt.Stop()
		}()
		runAll(t, rt)
		if ended != 5 || rt.Len() != 0 || rt.FdQueues().Parked() != 0 {
			t.Fatalf("after Stop: %d tasks ended, %d left, %d parked", ended, rt.Len(), rt.FdQueues().Parked())
		}
		if err := rt.Post(func() {}); err == nil {
			t.Fatal("Post after Stop succeeded")
		}
	})
}

// TestRunEnds checks when Run returns: with nothing to run at all, once
// the I/O is done, and with a deadlock on a queue once no descriptor has a
// task parked on it that could end it.
func TestRunEnds(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		runAll(t, rt)

		rd, wr := newPipe(t, rt)
		rt.Go("reader", func(tk *lwtask.Task) { rd.Read(tk, make([]byte, 1)) })
		rt.Go("writer", func(tk *lwtask.Task) { tk.Yield(); wr.Write(tk, []byte("x")) })
		runAll(t, rt)

		q := lwtask.Queue{Label: "nothing"}
		rt.Go("stuck", func(tk *lwtask.Task) { tk.Wait(&q) })
		rt.Go("reader", func(tk *lwtask.Task) { rd.Read(tk, make([]byte, 1)) })
		rt.Go("writer", func(tk *lwtask.Task) { tk.Yield(); tk.Yield(); wr.Write(tk, []byte("x")) })
		var dl *lwtask.DeadlockError
		if err := runBounded(rt); !errors.As(err, &dl) || len(dl.Blocked) != 1 || dl.Blocked[0].Name != "stuck" {
			t.Fatalf("Run: %v, want the deadlock of stuck", err)
		}
	})
}

func TestCloseTwice(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		if err := rt.Close(); err != nil {
			t.Fatal(err)
		}
		if err := rt.Close(); err == nil {
			t.Fatal("second Close succeeded")
		}
	})
}

// TestHighDescriptor waits on a descriptor above FD_SETSIZE: select
// refuses it with ErrFdTooLarge, to that task alone, while another task's
// low descriptor is served; poll and epoll take it.
func TestHighDescriptor(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		hr, hw := newPipe(t, rt)
		high, err := rt.NewFile(fdtest.DupAtLeast(t, hr.Fd(), 1024), "high")
		if err != nil {
			t.Fatal(err)
		}
		defer high.Close()
		lowR, lowW := newPipe(t, rt)
		var highErr error
		var highGot, lowGot string
		rt.Go("high", func(tk *lwtask.Task) {
			buf := make([]byte, 8)
			n, err := high.Read(tk, buf)
			highGot, highErr = string(buf[:n]), err
		})
		rt.Go("low", func(tk *lwtask.Task) {
			buf := make([]byte, 8)
			n, err := lowR.Read(tk, buf)
			if err != nil {
				t.Error(err)
			}
			lowGot = string(buf[:n])
		})
		rt.Go("writer", func(tk *lwtask.Task) {
			lowW.Write(tk, []byte("low"))
			hw.Write(tk, []byte("high"))
		})
		runAll(t, rt)
		if lowGot != "low" {
			t.Errorf("low descriptor read %q", lowGot)
		}
		if rt.Poller() == "select" {
			if !errors.Is(highErr, lwtask.ErrFdTooLarge) {
				t.Fatalf("select read of descriptor %d: %v, want ErrFdTooLarge", high.Fd(), highErr)
			}
			return
		}
		if highGot != "high" || highErr != nil {
			t.Fatalf("%s read of descriptor %d = %q, %v", rt.Poller(), high.Fd(), highGot, highErr)
		}
	})
}
