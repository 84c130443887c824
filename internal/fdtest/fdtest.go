// Package fdtest holds descriptor helpers shared by the tests of several
// packages.
package fdtest

import (
	"testing"

	"golang.org/x/sys/unix"
)

// DupAtLeast duplicates fd, close-on-exec, to the lowest free number >= min,
// raising the soft descriptor limit for the test if it is in the way, and
// skipping the test if the hard limit is.
func DupAtLeast(t testing.TB, fd, min int) int {
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
	return nfd
}

// Fill writes into fd, which must be non-blocking, until it would block: a
// pipe or socket whose reader reads nothing is then full. It reports
// errors with t.Errorf, not t.Fatal, so that a task may call it.
func Fill(t testing.TB, fd int) {
	t.Helper()
	chunk := make([]byte, 64<<10)
	for {
		_, err := unix.Write(fd, chunk)
		switch {
		case err == unix.EAGAIN:
			return
		case err == unix.EINTR:
		case err != nil:
			t.Errorf("fill fd %d: %v", fd, err)
			return
		}
	}
}

// Drain reads the non-blocking fd until it would block or ends, and
// returns what it read. It reports errors with t.Errorf.
func Drain(t testing.TB, fd int) []byte {
	t.Helper()
	var got []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(fd, buf)
		if n > 0 {
			got = append(got, buf[:n]...)
		}
		switch {
		case err == unix.EAGAIN:
			return got
		case err == unix.EINTR:
		case err != nil:
			t.Errorf("drain fd %d: %v", fd, err)
			return got
		case n == 0:
			return got
		}
	}
}
