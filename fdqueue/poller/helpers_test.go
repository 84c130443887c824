//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package poller

import (
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// forEach runs test once per backend available here.
func forEach(t *testing.T, test func(t *testing.T, p *Poller)) {
	t.Helper()
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) { test(t, open(t, name)) })
	}
}

// open makes a poller that is closed when the test ends.
func open(t testing.TB, name string) *Poller {
	t.Helper()
	p, err := New(name)
	if err != nil {
		t.Fatalf("New(%q): %v", name, err)
	}
	if p.Name() != name {
		t.Fatalf("New(%q).Name() = %q", name, p.Name())
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// pipe makes a non-blocking pipe that is closed when the test ends.
func pipe(t testing.TB) (r, w int) {
	t.Helper()
	r, w, err := newPipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(r); unix.Close(w) })
	return r, w
}

// socketpair makes a connected, non-blocking pair of stream sockets that
// is closed when the test ends.
func socketpair(t testing.TB) (a, b int) {
	t.Helper()
	a, b = rawSocketpair(t)
	t.Cleanup(func() { unix.Close(a); unix.Close(b) })
	return a, b
}

// rawSocketpair is socketpair for tests that close the sockets themselves.
func rawSocketpair(t testing.TB) (a, b int) {
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

// write puts one byte into fd.
func write(t testing.TB, fd int) {
	t.Helper()
	if _, err := unix.Write(fd, []byte{'x'}); err != nil {
		t.Fatalf("write fd %d: %v", fd, err)
	}
}

// mustRegister registers fd or fails the test.
func mustRegister(t testing.TB, p *Poller, fd int, ev Events) {
	t.Helper()
	if err := p.Register(fd, ev); err != nil {
		t.Fatalf("Register(%d, %v): %v", fd, ev, err)
	}
}

// wait runs one Wait with room for 64 events and returns them sorted.
func wait(t testing.TB, p *Poller, timeout time.Duration) []Event {
	t.Helper()
	events := make([]Event, 64)
	n, err := p.Wait(events, timeout)
	if err != nil {
		t.Fatalf("Wait(%v): %v", timeout, err)
	}
	events = events[:n]
	slices.SortFunc(events, func(a, b Event) int { return a.Fd - b.Fd })
	return events
}

// expect checks that a Wait of up to a second reports exactly want.
func expect(t testing.TB, p *Poller, want ...Event) {
	t.Helper()
	timeout := time.Second
	if len(want) == 0 {
		timeout = 10 * time.Millisecond
	}
	got := wait(t, p, timeout)
	slices.SortFunc(want, func(a, b Event) int { return a.Fd - b.Fd })
	if !slices.Equal(got, want) {
		t.Fatalf("Wait reported %v, want %v", got, want)
	}
}
