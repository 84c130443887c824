package fdqueue

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/lwtask/lwtask/fdqueue/poller"
	"github.com/lwtask/lwtask/internal/fdtest"
	"github.com/lwtask/lwtask/scheduler"
	"github.com/lwtask/lwtask/task"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Tests of the queues against a real scheduler and real descriptors, once
// per poller backend.

// forEach runs test once per backend, with a scheduler whose event source
// is a fresh FdQueues.
func forEach(t *testing.T, test func(t *testing.T, s *scheduler.Scheduler, q *FdQueues)) {
	for _, name := range poller.Names() {
		t.Run(name, func(t *testing.T) {
			q, err := New(name)
			if err != nil {
				t.Fatal(err)
			}
			if q.Backend() != name {
				t.Fatalf("Backend() = %q, want %q", q.Backend(), name)
			}
			s := scheduler.New(scheduler.WithEventSource(q))
			t.Cleanup(func() {
				if err := q.Close(); err != nil {
					t.Error(err)
				}
			})
			test(t, s, q)
		})
	}
}

// run runs s to the end; a watchdog turns a hang into a failure.
func run(t *testing.T, s *scheduler.Scheduler) {
	t.Helper()
	hung := false
	watchdog := time.AfterFunc(20*time.Second, func() { hung = true; s.Stop() })
	err := s.Run()
	if !watchdog.Stop() || hung {
		t.Fatal("Run hung; stopped by the watchdog")
	}
	if err != nil {
		t.Fatal(err)
	}
}

// pipe makes a non-blocking pipe closed when the test ends (a second close
// of a descriptor the test closed itself is harmless here: nothing else
// opens descriptors meanwhile).
func pipe(t *testing.T) (r, w int) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		t.Fatal(err)
	}
	for _, fd := range p {
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatal(err)
		}
	}
	return p[0], p[1]
}

func socketpair(t *testing.T) (a, b int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatal(err)
		}
	}
	return fds[0], fds[1]
}

func closeAll(fds ...int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

func write(t *testing.T, fd int, s string) {
	t.Helper()
	if _, err := unix.Write(fd, []byte(s)); err != nil {
		t.Fatalf("write fd %d: %v", fd, err)
	}
}

func read(t *testing.T, fd int) string {
	t.Helper()
	buf := make([]byte, 64)
	n, err := unix.Read(fd, buf)
	if err != nil {
		t.Fatalf("read fd %d: %v", fd, err)
	}
	return string(buf[:n])
}

// TestBlockForReadingStep parks a raw step task the essay's way: block,
// then yield, and resume when the descriptor is readable.
func TestBlockForReadingStep(t *testing.T) {
	forEach(t, func(t *testing.T, s *scheduler.Scheduler, q *FdQueues) {
		r, w := pipe(t)
		defer closeAll(r, w)
		var log []string
		state := 0
		s.GoStep("reader", func(tk *task.Task) task.Status {
			switch state {
			case 0:
				state = 1
				if err := q.BlockForReading(tk, r, time.Time{}); err != nil {
					t.Error(err)
					return task.Finish
				}
				log = append(log, "parked")
				return task.Yield
			default:
				if err := tk.WaitErr(); err != nil {
					t.Error(err)
				}
				log = append(log, "read "+read(t, r))
				return task.Finish
			}
		})
		s.Go("writer", func(tk *task.Task) {
			if q.Parked() != 1 {
				t.Errorf("Parked() = %d, want 1", q.Parked())
			}
			log = append(log, "write")
			write(t, w, "spam")
		})
		run(t, s)
		if want := []string{"parked", "write", "read spam"}; !slices.Equal(log, want) {
			t.Fatalf("log %q, want %q", log, want)
		}
		if q.Parked() != 0 {
			t.Fatalf("Parked() = %d after Run", q.Parked())
		}
	})
}

// TestLazyRegistration checks that the poller's interest follows the
// queues lazily: registered once for a task that reads, parks and reads
// again, and dropped once an event finds nobody waiting.
func TestLazyRegistration(t *testing.T) {
	forEach(t, func(t *testing.T, s *scheduler.Scheduler, q *FdQueues) {
		r, w := pipe(t)
		defer closeAll(r, w)
		release := bystander(t, s, q)
		reads := 0
		s.Go("reader", func(tk *task.Task) {
			for range 3 {
				if err := q.WaitReadable(tk, r, time.Time{}); err != nil {
					t.Error(err)
					return
				}
				unix.Read(r, make([]byte, 1))
				reads++
			}
		})
		s.Go("writer", func(tk *task.Task) {
			for i := range 3 {
				write(t, w, "x")
				for reads == i {
					tk.Yield()
				}
			}
			if st := q.poller.Stats(); st.Registers != 2 || st.Modifies+st.Unregisters != 0 {
				t.Errorf("reading three times cost %+v, want the reader's and the bystander's Register only", st)
			}
			// Readable again with nobody parked: the next poll lets go.
			write(t, w, "left over")
			tk.Yield()
			if ev, st := q.poller.Watched(r), q.poller.Stats(); ev != 0 || st.Unregisters != 1 {
				t.Errorf("watching %v with nobody parked (%+v)", ev, st)
			}
			release()
		})
		run(t, s)
	})
}

// bystander parks a task on a pipe of its own, so that the scheduler polls
// the queues after every round, as it does in a program with other I/O
// going on. The returned function releases it.
func bystander(t *testing.T, s *scheduler.Scheduler, q *FdQueues) (release func()) {
	r, w := pipe(t)
	s.Go("bystander", func(tk *task.Task) {
		defer closeAll(r, w)
		if err := q.WaitReadable(tk, r, time.Time{}); err != nil {
			t.Error(err)
		}
	})
	return func() { write(t, w, "go") }
}

// TestTimeout checks that a deadline wakes the parked task with
// task.ErrTimeout, that the stale interest is dropped at the next event,
// and that the descriptor can be waited on again.
func TestTimeout(t *testing.T) {
	forEach(t, func(t *testing.T, s *scheduler.Scheduler, q *FdQueues) {
		r, w := pipe(t)
		defer closeAll(r, w)
		release := bystander(t, s, q)
		s.Go("reader", func(tk *task.Task) {
			defer release()
			err := q.WaitReadable(tk, r, time.Now().Add(time.Millisecond))
			if !errors.Is(err, task.ErrTimeout) {
				t.Errorf("WaitReadable past its deadline: %v, want ErrTimeout", err)
			}
			if q.Parked() != 1 {
				t.Errorf("Parked() = %d after the timeout, want the bystander only", q.Parked())
			}
			write(t, w, "late")
			tk.Yield()
			if ev := q.poller.Watched(r); ev != 0 {
				t.Errorf("still watching %v for a task that timed out", ev)
			}
			if err := q.WaitReadable(tk, r, time.Now().Add(time.Hour)); err != nil {
				t.Errorf("WaitReadable on a readable pipe: %v", err)
			}
			if got := read(t, r); got != "late" {
				t.Errorf("read %q", got)
			}
		})
		run(t, s)
	})
}

// TestKillParked checks that a task killed while parked leaves its queue:
// nothing counts it as parked any more, and Run ends.
func TestKillParked(t *testing.T) {
	forEach(t, func(t *testing.T, s *scheduler.Scheduler, q *FdQueues) {
		r, w := pipe(t)
		defer closeAll(r, w)
		reader := s.Go("reader", func(tk *task.Task) {
			q.WaitReadable(tk, r, time.Time{})
			t.Error("killed reader woke")
		})
		s.Go("killer", func(tk *task.Task) {
			s.Kill(reader)
			if q.Parked() != 0 {
				t.Errorf("Parked() = %d after the kill", q.Parked())
			}
		})
		run(t, s)
	})
}

// TestFIFO checks that tasks parked on one descriptor are woken one per
// event, in the order they parked.
func TestFIFO(t *testing.T) {
	forEach(t, func(t *testing.T, s *scheduler.Scheduler, q *FdQueues) {
		r, w := pipe(t)
		defer closeAll(r, w)
		var got []string
		for i := range 4 {
			s.Go(fmt.Sprint("reader ", i), func(tk *task.Task) {
				if err := q.WaitReadable(tk, r, time.Time{}); err != nil {
					t.Error(err)
				}
				buf := make([]byte, 1)
				unix.Read(r, buf)
				got = append(got, fmt.Sprintf("%d:%s", i, buf))
			})
		}
		s.Go("writer", func(tk *task.Task) { write(t, w, "abcd") })
		run(t, s)
		if want := []string{"0:a", "1:b", "2:c", "3:d"}; !slices.Equal(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
}

// TestCloseFd parks readers and writers on one socket and closes it: all
// wake with ErrClosed, and the socket is forgotten.
func TestCloseFd(t *testing.T) {
	forEach(t, func(t *testing.T, s *scheduler.Scheduler, q *FdQueues) {
		a, b := socketpair(t)
		defer unix.Close(b)
		fdtest.Fill(t, a)
		var errs []error
		for _, dir := range []string{"read", "write", "read", "write"} {
			s.Go(dir, func(tk *task.Task) {
				wait := q.WaitReadable
				if dir == "write" {
					wait = q.WaitWritable
				}
				errs = append(errs, wait(tk, a, time.Time{}))
			})
		}
		s.Go("closer", func(tk *task.Task) {
			if q.Parked() != 4 {
				t.Errorf("Parked() = %d, want 4", q.Parked())
			}
			if err := q.CloseFd(a); err != nil {
				t.Error(err)
			}
			if q.Parked() != 0 || q.lookup(a) != nil {
				t.Errorf("after CloseFd: Parked() = %d, queues %v", q.Parked(), q.lookup(a))
			}
		})
		run(t, s)
		if len(errs) != 4 {
			t.Fatalf("%d tasks woke, want 4", len(errs))
		}
		for _, err := range errs {
			if !errors.Is(err, ErrClosed) {
				t.Errorf("woken with %v, want ErrClosed", err)
			}
		}
		if _, err := unix.FcntlInt(uintptr(a), unix.F_GETFD, 0); err != unix.EBADF {
			t.Errorf("descriptor still open after CloseFd: %v", err)
		}
	})
}

// TestForget is CloseFd for a descriptor closed by someone else.
func TestForget(t *testing.T) {
	forEach(t, func(t *testing.T, s *scheduler.Scheduler, q *FdQueues) {
		r, w := pipe(t)
		defer closeAll(w)
		var err error
		s.Go("reader", func(tk *task.Task) { err = q.WaitReadable(tk, r, time.Time{}) })
		s.Go("closer", func(tk *task.Task) {
			q.Forget(r)
			unix.Close(r)
			q.Forget(r) // twice is harmless
		})
		run(t, s)
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("reader woke with %v, want ErrClosed", err)
		}
	})
}

// TestReusedNumber closes a descriptor whose open file lives on in a
// duplicate, and checks that the new descriptor given the same number
// never sees the old file's events.
func TestReusedNumber(t *testing.T) {
	forEach(t, func(t *testing.T, s *scheduler.Scheduler, q *FdQueues) {
		oldR, oldW := pipe(t)
		keep, err := unix.Dup(oldR) // keeps the old open file alive
		if err != nil {
			t.Fatal(err)
		}
		defer closeAll(oldW, keep)
		n := oldR
		var newR, newW int
		wakes := 0
		s.Go("old reader", func(tk *task.Task) {
			if err := q.WaitReadable(tk, oldR, time.Time{}); !errors.Is(err, ErrClosed) {
				t.Errorf("old reader woke with %v, want ErrClosed", err)
			}
		})
		s.Go("reopen", func(tk *task.Task) {
			if err := q.CloseFd(oldR); err != nil {
				t.Error(err)
			}
			newR, newW = pipe(t)
			if newR != n {
				t.Errorf("new pipe got descriptor %d, not the reused %d", newR, n)
			}
			s.Go("new reader", func(tk *task.Task) {
				for {
					if err := q.WaitReadable(tk, newR, time.Time{}); err != nil {
						t.Error(err)
						return
					}
					wakes++
					if _, err := unix.Read(newR, make([]byte, 8)); err == nil {
						return
					}
				}
			})
			tk.Yield()
			write(t, oldW, "old") // readable through keep, never through newR
			for range 5 {
				tk.Yield()
			}
			if wakes != 0 {
				t.Errorf("new reader woken %d times by the old file's data", wakes)
			}
			write(t, newW, "new")
		})
		run(t, s)
		closeAll(newR, newW)
		if wakes != 1 {
			t.Fatalf("new reader woken %d times, want 1", wakes)
		}
	})
}

// TestHangUpWakesBoth checks that a peer's close wakes a socket's reader
// and its writer, each of which then meets the condition.
func TestHangUpWakesBoth(t *testing.T) {
	forEach(t, func(t *testing.T, s *scheduler.Scheduler, q *FdQueues) {
		a, b := socketpair(t)
		defer unix.Close(a)
		fdtest.Fill(t, a)
		var readErr, writeErr error
		s.Go("reader", func(tk *task.Task) {
			if err := q.WaitReadable(tk, a, time.Time{}); err != nil {
				t.Error(err)
			}
			_, readErr = unix.Read(a, make([]byte, 1))
		})
		s.Go("writer", func(tk *task.Task) {
			if err := q.WaitWritable(tk, a, time.Time{}); err != nil {
				t.Error(err)
			}
			_, writeErr = unix.SendmsgN(a, []byte("x"), nil, nil, unix.MSG_NOSIGNAL)
		})
		s.Go("peer", func(tk *task.Task) { unix.Close(b) })
		run(t, s)
		// The peer closed with our data unread: a reset, or on some
		// systems a plain end of file.
		if readErr != nil && readErr != unix.ECONNRESET {
			t.Errorf("read after hang-up: %v, want EOF or ECONNRESET", readErr)
		}
		if writeErr != unix.EPIPE && writeErr != unix.ECONNRESET {
			t.Errorf("write after hang-up: %v, want EPIPE", writeErr)
		}
	})
}

// TestManyReady makes more descriptors ready at once than one Wait
// reports; every parked task is woken and the event buffer grows.
func TestManyReady(t *testing.T) {
	forEach(t, func(t *testing.T, s *scheduler.Scheduler, q *FdQueues) {
		const n = 150
		initial := len(q.events)
		woken := 0
		var fds []int
		defer func() { closeAll(fds...) }()
		for i := range n {
			r, w := pipe(t)
			fds = append(fds, r, w)
			write(t, w, "x")
			s.Go(fmt.Sprint("reader ", i), func(tk *task.Task) {
				// Ready already, but the wait parks until the poller says so.
				if err := q.WaitReadable(tk, r, time.Time{}); err != nil {
					t.Error(err)
				}
				woken++
			})
		}
		run(t, s)
		if woken != n {
			t.Fatalf("%d of %d readers woken", woken, n)
		}
		if len(q.events) <= initial {
			t.Fatalf("event buffer still %d after %d events at once", len(q.events), n)
		}
	})
}

// TestStrayRegistration checks that an event on a descriptor with no
// queues, registered behind the queues' back, drops the registration.
func TestStrayRegistration(t *testing.T) {
	forEach(t, func(t *testing.T, s *scheduler.Scheduler, q *FdQueues) {
		r, w := pipe(t)
		defer closeAll(r, w)
		write(t, w, "x")
		if err := q.poller.Register(r, poller.Read); err != nil {
			t.Fatal(err)
		}
		if err := q.Wait(time.Second); err != nil {
			t.Fatal(err)
		}
		if err := q.poller.Unregister(r); !errors.Is(err, poller.ErrNotRegistered) {
			t.Fatalf("Unregister after the stray event: %v, want ErrNotRegistered", err)
		}
	})
}

// TestBadDescriptors checks the descriptors a task cannot wait on: a
// negative one, and, with select, one at or above FD_SETSIZE; the task is
// not parked and others go on.
func TestBadDescriptors(t *testing.T) {
	r, w := pipe(t)
	defer closeAll(r, w)
	high := fdtest.DupAtLeast(t, r, 1024)
	defer unix.Close(high)
	forEach(t, func(t *testing.T, s *scheduler.Scheduler, q *FdQueues) {
		lowR, lowW := pipe(t)
		defer closeAll(lowR, lowW)
		var negErr, highErr error
		lowRead := ""
		s.Go("negative", func(tk *task.Task) { negErr = q.WaitReadable(tk, -1, time.Time{}) })
		s.Go("high", func(tk *task.Task) {
			highErr = q.WaitReadable(tk, high, time.Now().Add(time.Hour))
		})
		s.Go("low", func(tk *task.Task) {
			if err := q.WaitReadable(tk, lowR, time.Time{}); err != nil {
				t.Error(err)
			}
			lowRead = read(t, lowR)
		})
		s.Go("writer", func(tk *task.Task) {
			write(t, lowW, "low")
			write(t, w, "high")
		})
		run(t, s)
		if !errors.Is(negErr, unix.EBADF) {
			t.Errorf("wait on -1: %v, want EBADF", negErr)
		}
		if lowRead != "low" {
			t.Errorf("low descriptor read %q", lowRead)
		}
		if q.Backend() == "select" {
			if !errors.Is(highErr, ErrFdTooLarge) {
				t.Errorf("select wait on %d: %v, want ErrFdTooLarge", high, highErr)
			}
			return
		}
		if highErr != nil {
			t.Errorf("%s wait on %d: %v", q.Backend(), high, highErr)
		}
		read(t, r)
	})
}

// TestWakeup makes a Wait with no limit return from another goroutine.
func TestWakeup(t *testing.T) {
	forEach(t, func(t *testing.T, s *scheduler.Scheduler, q *FdQueues) {
		done := make(chan error)
		go func() { done <- q.Wait(-1) }()
		q.Wakeup()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// TestRunEnds checks that Run returns once nothing is parked, even though
// a descriptor stays registered, and that a task blocked on a plain queue
// is then reported as a deadlock.
func TestRunEnds(t *testing.T) {
	forEach(t, func(t *testing.T, s *scheduler.Scheduler, q *FdQueues) {
		r, w := pipe(t)
		defer closeAll(r, w)
		var stuck task.Queue
		stuck.Label = "nothing"
		s.Go("stuck", func(tk *task.Task) { tk.Wait(&stuck) })
		s.Go("reader", func(tk *task.Task) {
			if err := q.WaitReadable(tk, r, time.Time{}); err != nil {
				t.Error(err)
			}
		})
		s.Go("writer", func(tk *task.Task) {
			tk.Yield() // the deadlock is not reported while the reader is parked
			write(t, w, "x")
		})
		var dl *scheduler.DeadlockError
		if err := s.Run(); !errors.As(err, &dl) || len(dl.Blocked) != 1 || dl.Blocked[0].Name != "stuck" {
			t.Fatalf("Run: %v, want a deadlock of stuck", err)
		}
	})
}
