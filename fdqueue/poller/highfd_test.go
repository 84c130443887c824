//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package poller

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// dupAtLeast duplicates fd to the lowest free number >= min, raising the
// soft descriptor limit for the test if it is in the way.
func dupAtLeast(t *testing.T, fd, min int) int {
	t.Helper()
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if uint64(lim.Cur) <= uint64(min)+64 {
		old := lim
		lim.Cur = lim.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || uint64(lim.Max) <= uint64(min)+64 {
			t.Skipf("descriptor limit %v cannot reach %d: %v", lim.Max, min, err)
		}
		t.Cleanup(func() { unix.Setrlimit(unix.RLIMIT_NOFILE, &old) })
	}
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD, min)
	if err != nil {
		t.Fatalf("F_DUPFD %d: %v", min, err)
	}
	unix.CloseOnExec(nfd)
	t.Cleanup(func() { unix.Close(nfd) })
	return nfd
}

func TestHighDescriptor(t *testing.T) {
	r, w := pipe(t)
	write(t, w)
	high := dupAtLeast(t, r, fdSetSize)
	forEach(t, func(t *testing.T, p Poller) {
		err := p.Register(high, Read)
		if p.Name() == "select" {
			if !errors.Is(err, ErrFdTooLarge) {
				t.Fatalf("Register(%d) = %v, want ErrFdTooLarge", high, err)
			}
			expect(t, p)
			return
		}
		if err != nil {
			t.Fatalf("Register(%d): %v", high, err)
		}
		expect(t, p, Event{high, Read})
	})
}

// TestLastSelectDescriptor checks the edge of the fd_set: FD_SETSIZE-1
// still fits.
func TestLastSelectDescriptor(t *testing.T) {
	r, w := pipe(t)
	write(t, w)
	last := dupAtLeast(t, r, fdSetSize-1)
	if last != fdSetSize-1 {
		t.Skipf("descriptor %d is taken", fdSetSize-1)
	}
	p := open(t, "select")
	mustRegister(t, p, last, Read)
	expect(t, p, Event{last, Read})
	if err := p.Unregister(last); err != nil {
		t.Fatal(err)
	}
	expect(t, p)
}
