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
