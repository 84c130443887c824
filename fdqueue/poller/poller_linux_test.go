package poller

import (
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestFdSetSizeMatchesHeader(t *testing.T) {
	if fdSetSize != unix.FD_SETSIZE {
		t.Fatalf("fdSetSize = %d, unix.FD_SETSIZE = %d", fdSetSize, unix.FD_SETSIZE)
	}
}

// openFds counts this process's descriptors.
func openFds(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	return len(entries)
}

func TestNoDescriptorLeak(t *testing.T) {
	openFds(t) // the first call may make the runtime open its own poller
	before := openFds(t)
	for _, name := range Names() {
		for range 10 {
			p, err := New(name)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Wakeup(); err != nil {
				t.Fatal(err)
			}
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if after := openFds(t); after != before {
		t.Fatalf("%d descriptors open before, %d after", before, after)
	}
}

// signalThread keeps sending SIGURG, which Go's runtime uses for
// preemption, to the calling goroutine's thread until the returned stop is
// called, so that its system calls fail with EINTR.
func signalThread(t *testing.T) (stop func()) {
	runtime.LockOSThread()
	pid, tid := unix.Getpid(), unix.Gettid()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := unix.Tgkill(pid, tid, unix.SIGURG); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(200 * time.Microsecond)
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		runtime.UnlockOSThread()
	}
}

// The signals are real: check that they do interrupt a bare poll.
func TestSignalsInterrupt(t *testing.T) {
	stop := signalThread(t)
	defer stop()
	for range 100 {
		if _, err := unix.Poll(nil, 100); err == unix.EINTR {
			return
		}
	}
	t.Skip("no EINTR seen; the retry tests below prove little here")
}

func TestWaitSurvivesEINTR(t *testing.T) {
	forEach(t, func(t *testing.T, p *Poller) {
		r, w := pipe(t)
		mustRegister(t, p, r, Read)
		const timeout = 50 * time.Millisecond
		stop := signalThread(t)
		start := time.Now()
		got := wait(t, p, timeout)
		elapsed := time.Since(start)
		if len(got) != 0 || elapsed < timeout {
			stop()
			t.Fatalf("Wait(%v) = %v after %v, want nothing after the full timeout", timeout, got, elapsed)
		}

		// An infinite Wait stays asleep through the signals until
		// something happens.
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(20 * time.Millisecond)
			if _, err := unix.Write(w, []byte{'x'}); err != nil {
				t.Error(err)
			}
		}()
		got = wait(t, p, -1)
		stop()
		wg.Wait()
		if len(got) != 1 || got[0] != (Event{r, Read}) {
			t.Fatalf("Wait(-1) = %v, want [{%d read}]", got, r)
		}
	})
}
