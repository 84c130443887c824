//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package poller

import (
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestNames(t *testing.T) {
	names := Names()
	if len(names) == 0 {
		t.Fatal("no backends")
	}
	best := map[string]string{"linux": "epoll", "darwin": "kqueue", "freebsd": "kqueue"}[runtime.GOOS]
	if best != "" && names[0] != best {
		t.Errorf("Names() = %v, want %s first", names, best)
	}
	p, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Name() != names[0] {
		t.Errorf(`New("").Name() = %q, want %q`, p.Name(), names[0])
	}
}

func TestNewUnknown(t *testing.T) {
	for _, name := range []string{"bogus", "kqueue", "epoll", "Poll"} {
		if contains(Names(), name) {
			continue
		}
		p, err := New(name)
		if err == nil {
			p.Close()
			t.Fatalf("New(%q) succeeded", name)
		}
		for _, valid := range Names() {
			if !strings.Contains(err.Error(), valid) {
				t.Errorf("New(%q) error %q does not list %q", name, err, valid)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestReadableAfterWrite(t *testing.T) {
	forEach(t, func(t *testing.T, p *Poller) {
		r, w := pipe(t)
		mustRegister(t, p, r, Read)
		expect(t, p)
		write(t, w)
		expect(t, p, Event{r, Read})
		expect(t, p, Event{r, Read}) // level-triggered: still there
	})
}

func TestWritableAtOnce(t *testing.T) {
	forEach(t, func(t *testing.T, p *Poller) {
		_, w := pipe(t)
		a, _ := socketpair(t)
		mustRegister(t, p, w, Write)
		mustRegister(t, p, a, Write)
		expect(t, p, Event{w, Write}, Event{a, Write})
	})
}

func TestReadWriteTogether(t *testing.T) {
	forEach(t, func(t *testing.T, p *Poller) {
		a, b := socketpair(t)
		mustRegister(t, p, a, Read|Write)
		expect(t, p, Event{a, Write})
		write(t, b)
		expect(t, p, Event{a, Read | Write})
	})
}

func TestNotReadableWhenEmpty(t *testing.T) {
	forEach(t, func(t *testing.T, p *Poller) {
		r, _ := pipe(t)
		a, _ := socketpair(t)
		mustRegister(t, p, r, Read)
		mustRegister(t, p, a, Read)
		if got := wait(t, p, 0); len(got) != 0 {
			t.Fatalf("Wait(0) = %v, want nothing", got)
		}
		if got := wait(t, p, 20*time.Millisecond); len(got) != 0 {
			t.Fatalf("Wait(20ms) = %v, want nothing", got)
		}
	})
}

// Only a lower bound is checked: an upper one would fail on a busy machine.
func TestWaitHonoursTimeout(t *testing.T) {
	forEach(t, func(t *testing.T, p *Poller) {
		r, _ := pipe(t)
		mustRegister(t, p, r, Read)
		for _, timeout := range []time.Duration{400 * time.Microsecond, 3 * time.Millisecond, 30 * time.Millisecond} {
			start := time.Now()
			if got := wait(t, p, timeout); len(got) != 0 {
				t.Fatalf("Wait(%v) = %v, want nothing", timeout, got)
			}
			if elapsed := time.Since(start); elapsed < timeout {
				t.Errorf("Wait(%v) returned after %v", timeout, elapsed)
			}
		}
	})
}

func TestModify(t *testing.T) {
	forEach(t, func(t *testing.T, p *Poller) {
		a, b := socketpair(t)
		mustRegister(t, p, a, Read)
		expect(t, p)
		if err := p.Modify(a, Write); err != nil {
			t.Fatal(err)
		}
		expect(t, p, Event{a, Write})
		if err := p.Modify(a, Write); err != nil { // no change is fine
			t.Fatal(err)
		}
		expect(t, p, Event{a, Write})
		if err := p.Modify(a, Read); err != nil {
			t.Fatal(err)
		}
		expect(t, p)
		write(t, b)
		expect(t, p, Event{a, Read})
	})
}

func TestUnregister(t *testing.T) {
	forEach(t, func(t *testing.T, p *Poller) {
		r, w := pipe(t)
		mustRegister(t, p, r, Read)
		mustRegister(t, p, w, Write)
		write(t, w)
		expect(t, p, Event{r, Read}, Event{w, Write})
		if err := p.Unregister(r); err != nil {
			t.Fatal(err)
		}
		expect(t, p, Event{w, Write})
		if err := p.Unregister(w); err != nil {
			t.Fatal(err)
		}
		expect(t, p)
		mustRegister(t, p, r, Read) // registering again after Unregister works
		expect(t, p, Event{r, Read})
	})
}

// hangup is what a Wait should report for a descriptor watched for
// watched whose other end went away. Read|Write|Hup is the package's promise,
// checked exactly where the kernel's answer is known (Linux, and kqueue's
// EV_EOF); select has no notion of hang-up and only sees the watched
// direction become ready; poll elsewhere must at least wake the watcher.
func hangup(t *testing.T, p *Poller, fd int, watched Events) {
	t.Helper()
	got := wait(t, p, time.Second)
	exact := p.Name() != "select" && (runtime.GOOS == "linux" || p.Name() == "kqueue")
	switch {
	case len(got) != 1 || got[0].Fd != fd || got[0].Events&watched == 0:
		t.Fatalf("Wait = %v, want fd %d ready for %v", got, fd, watched)
	case exact && got[0].Events != Read|Write|Hup:
		t.Fatalf("Wait = %v, want fd %d ready for read|write|hup", got, fd)
	}
}

func TestPeerClosed(t *testing.T) {
	forEach(t, func(t *testing.T, p *Poller) {
		a, b := rawSocketpair(t)
		defer unix.Close(a)
		mustRegister(t, p, a, Read)
		expect(t, p)
		unix.Close(b)
		hangup(t, p, a, Read)
		if err := p.Unregister(a); err != nil {
			t.Fatal(err)
		}

		r, w, err := newPipe()
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(r)
		mustRegister(t, p, r, Read)
		unix.Close(w)
		hangup(t, p, r, Read)
	})
}

func TestReaderGone(t *testing.T) {
	forEach(t, func(t *testing.T, p *Poller) {
		r, w, err := newPipe()
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(w)
		mustRegister(t, p, w, Write)
		unix.Close(r)
		hangup(t, p, w, Write)
	})
}

// A descriptor closed while registered breaks the rule Unregister states,
// but must not hang or wedge the poller: poll reports POLLNVAL, select
// fails with EBADF (turned into Read|Write|Hup and Read|Write), while
// epoll and kqueue silently drop it.
func TestClosedWhileRegistered(t *testing.T) {
	forEach(t, func(t *testing.T, p *Poller) {
		r, w, err := newPipe()
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(w)
		other, _ := pipe(t)
		mustRegister(t, p, r, Read)
		mustRegister(t, p, other, Read)
		unix.Close(r)
		got := wait(t, p, 50*time.Millisecond)
		switch p.Name() {
		case "poll", "select":
			if len(got) != 1 || got[0].Fd != r || got[0].Events&(Read|Write) != Read|Write {
				t.Fatalf("Wait = %v, want [{%d read|write}]", got, r)
			}
		default:
			if len(got) != 0 {
				t.Fatalf("Wait = %v, want nothing", got)
			}
		}
		if err := p.Unregister(r); err != nil {
			t.Fatalf("Unregister after close: %v", err)
		}
		expect(t, p)
	})
}

func TestWakeupInterruptsWait(t *testing.T) {
	forEach(t, func(t *testing.T, p *Poller) {
		r, _ := pipe(t)
		mustRegister(t, p, r, Read)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(20 * time.Millisecond)
			if err := p.Wakeup(); err != nil {
				t.Error(err)
			}
		}()
		if got := wait(t, p, -1); len(got) != 0 {
			t.Errorf("woken Wait = %v, want nothing", got)
		}
		wg.Wait()
	})
}

func TestWakeupBeforeWait(t *testing.T) {
	forEach(t, func(t *testing.T, p *Poller) {
		if err := p.Wakeup(); err != nil {
			t.Fatal(err)
		}
		wait(t, p, -1)
	})
}

func TestWakeupsMerge(t *testing.T) {
	forEach(t, func(t *testing.T, p *Poller) {
		r, w := pipe(t)
		mustRegister(t, p, r, Read)
		wakeMany(t, p.Wakeup, 1000)
		if got := wait(t, p, -1); len(got) != 0 {
			t.Fatalf("woken Wait = %v, want nothing", got)
		}
		if got := wait(t, p, 0); len(got) != 0 {
			t.Fatalf("Wait(0) after wakeup = %v, want nothing", got)
		}
		const timeout = 20 * time.Millisecond
		start := time.Now()
		if got := wait(t, p, timeout); len(got) != 0 {
			t.Fatalf("Wait(%v) = %v, want nothing", timeout, got)
		}
		if elapsed := time.Since(start); elapsed < timeout {
			t.Fatalf("Wait(%v) woken again after %v", timeout, elapsed)
		}
		// The waker is re-armed: one more Wakeup works, and user events
		// are still reported alongside one.
		write(t, w)
		if err := p.Wakeup(); err != nil {
			t.Fatal(err)
		}
		got := wait(t, p, -1)
		if len(got) > 1 || (len(got) == 1 && got[0] != Event{r, Read}) {
			t.Fatalf("Wait = %v, want at most [{%d read}]", got, r)
		}
		expect(t, p, Event{r, Read})
	})
}

// wakeMany calls wake from n goroutines at once.
func wakeMany(t *testing.T, wake func() error, n int) {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if err := wake(); err != nil {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
}

// TestWakeupWritesOnce looks inside: a thousand wakeups leave exactly one
// message in the waker, then draining re-arms it.
func TestWakeupWritesOnce(t *testing.T) {
	w, err := newWaker()
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	wakeMany(t, w.wake, 1000)
	var buf [64]byte
	n, err := unix.Read(w.rfd, buf[:])
	if err != nil || n != len(wakeMsg) || [8]byte(buf[:8]) != wakeMsg {
		t.Fatalf("read %d bytes %x, %v; want one message %x", n, buf[:n], err, wakeMsg)
	}
	if n, err := unix.Read(w.rfd, buf[:]); err != unix.EAGAIN {
		t.Fatalf("second read: %d, %v; want EAGAIN", n, err)
	}
	w.drain()
	if err := w.wake(); err != nil {
		t.Fatal(err)
	}
	if n, err := unix.Read(w.rfd, buf[:]); n != len(wakeMsg) {
		t.Fatalf("after drain: read %d, %v; want a new message", n, err)
	}
}

func TestShortEventsSlice(t *testing.T) {
	forEach(t, func(t *testing.T, p *Poller) {
		ready := map[int]bool{}
		for range 5 {
			r, w := pipe(t)
			write(t, w)
			mustRegister(t, p, r, Read)
			ready[r] = true
		}
		seen := map[int]bool{}
		events := make([]Event, 2)
		for range 10 {
			n, err := p.Wait(events, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if n != len(events) || events[0].Fd == events[1].Fd {
				t.Fatalf("Wait = %v, want 2 different descriptors", events[:n])
			}
			for _, e := range events {
				if !ready[e.Fd] || e.Events != Read {
					t.Fatalf("unexpected event %v", e)
				}
				seen[e.Fd] = true
			}
		}
		if len(seen) != len(ready) {
			t.Errorf("10 Waits of 2 reported only %d of %d ready descriptors", len(seen), len(ready))
		}
		if n, err := p.Wait(nil, 0); n != 0 || err != nil {
			t.Errorf("Wait(nil) = %d, %v", n, err)
		}
	})
}

func TestRegisterTwice(t *testing.T) {
	forEach(t, func(t *testing.T, p *Poller) {
		r, _ := pipe(t)
		mustRegister(t, p, r, Read)
		if err := p.Register(r, Write); !errors.Is(err, ErrRegistered) {
			t.Fatalf("second Register = %v, want ErrRegistered", err)
		}
	})
}

func TestUnknownDescriptor(t *testing.T) {
	forEach(t, func(t *testing.T, p *Poller) {
		r, _ := pipe(t)
		if err := p.Unregister(r); !errors.Is(err, ErrNotRegistered) {
			t.Errorf("Unregister = %v, want ErrNotRegistered", err)
		}
		if err := p.Modify(r, Read); !errors.Is(err, ErrNotRegistered) {
			t.Errorf("Modify = %v, want ErrNotRegistered", err)
		}
		mustRegister(t, p, r, Read)
		if err := p.Unregister(r); err != nil {
			t.Fatal(err)
		}
		if err := p.Unregister(r); !errors.Is(err, ErrNotRegistered) {
			t.Errorf("second Unregister = %v, want ErrNotRegistered", err)
		}
	})
}

func TestBadArguments(t *testing.T) {
	forEach(t, func(t *testing.T, p *Poller) {
		r, _ := pipe(t)
		for _, fd := range []int{-1, -1 << 40, 1 << 40} {
			if err := p.Register(fd, Read); !errors.Is(err, unix.EBADF) {
				t.Errorf("Register(%d) = %v, want EBADF", fd, err)
			}
			if err := p.Modify(fd, Read); err == nil {
				t.Errorf("Modify(%d) succeeded", fd)
			}
			if err := p.Unregister(fd); err == nil {
				t.Errorf("Unregister(%d) succeeded", fd)
			}
		}
		for _, ev := range []Events{0, 4, 0xff} {
			if err := p.Register(r, ev); !errors.Is(err, unix.EINVAL) {
				t.Errorf("Register(%v) = %v, want EINVAL", ev, err)
			}
		}
		mustRegister(t, p, r, Read)
		if err := p.Modify(r, 0); !errors.Is(err, unix.EINVAL) {
			t.Errorf("Modify(0) = %v, want EINVAL", err)
		}
		expect(t, p)
	})
}

func TestClosedPoller(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			p, err := New(name)
			if err != nil {
				t.Fatal(err)
			}
			r, _ := pipe(t)
			mustRegister(t, p, r, Read)
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			checks := map[string]error{
				"Register":   p.Register(r, Read),
				"Modify":     p.Modify(r, Read),
				"Unregister": p.Unregister(r),
				"Wakeup":     p.Wakeup(),
				"Close":      p.Close(),
			}
			_, checks["Wait"] = p.Wait(make([]Event, 1), -1)
			for call, err := range checks {
				if !errors.Is(err, ErrClosed) {
					t.Errorf("%s after Close = %v, want ErrClosed", call, err)
				}
			}
		})
	}
}

// TestModel drives random changes over many descriptors and checks every
// Wait against what should be ready, to catch bookkeeping slips such as
// the swap in Unregister or a kernel registration out of step. Sockets are
// used because their readiness is the same everywhere: always writable,
// readable once the peer has written (pipes are two-way on some BSDs).
func TestModel(t *testing.T) {
	forEach(t, func(t *testing.T, p *Poller) {
		ready := map[int]Events{}
		var fds []int
		for i := range 12 {
			a, b := socketpair(t)
			ready[a] = Write
			if i%2 == 0 {
				write(t, b)
				ready[a] |= Read
			}
			fds = append(fds, a)
		}
		watched := map[int]Events{}
		seed := uint32(1)
		random := func(n int) int { // xorshift: deterministic, no global state
			seed ^= seed << 13
			seed ^= seed >> 17
			seed ^= seed << 5
			return int(seed % uint32(n))
		}
		for step := range 400 {
			fd := fds[random(len(fds))]
			ev := Events(1 + random(3))
			var err error
			switch _, ok := watched[fd]; {
			case !ok:
				err = p.Register(fd, ev)
				watched[fd] = ev
			case random(2) == 0:
				err = p.Modify(fd, ev)
				watched[fd] = ev
			default:
				err = p.Unregister(fd)
				delete(watched, fd)
			}
			if err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
			var want []Event
			for fd, ev := range watched {
				if ev&ready[fd] != 0 {
					want = append(want, Event{fd, ev & ready[fd]})
				}
			}
			expect(t, p, want...)
		}
	})
}

// TestEdgeNothingLost registers more edge-triggered descriptors than one
// Wait can report: each must be reported exactly once over the next Waits,
// none dropped, since an edge is not reported again.
func TestEdgeNothingLost(t *testing.T) {
	forEach(t, func(t *testing.T, p *Poller) {
		if !p.CanEdge() {
			if err := p.Register(0, Read|Edge); err == nil {
				t.Fatal("Register with Edge on a backend without edge triggering succeeded")
			}
			t.Skipf("%s has no edge triggering", p.Name())
		}
		const n = 70
		ready := map[int]bool{}
		for range n {
			r, w := pipe(t)
			mustRegister(t, p, r, Read|Edge)
			write(t, w)
			ready[r] = true
		}
		seen := map[int]int{}
		events := make([]Event, 8)
		for range n {
			k, err := p.Wait(events, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range events[:k] {
				seen[e.Fd]++
			}
		}
		for fd := range ready {
			if seen[fd] != 1 {
				t.Errorf("fd %d reported %d times, want once", fd, seen[fd])
			}
		}
		// Nothing more: the edges are spent, although all are still readable.
		expect(t, p)
	})
}
