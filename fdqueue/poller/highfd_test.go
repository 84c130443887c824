//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package poller

import (
	"errors"
	"testing"

	"github.com/lwtask/lwtask/internal/fdtest"
	"golang.org/x/sys/unix"
)

func TestHighDescriptor(t *testing.T) {
	r, w := pipe(t)
	write(t, w)
	high := fdtest.DupAtLeast(t, r, fdSetSize)
	t.Cleanup(func() { unix.Close(high) })
	forEach(t, func(t *testing.T, p *Poller) {
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
	last := fdtest.DupAtLeast(t, r, fdSetSize-1)
	t.Cleanup(func() { unix.Close(last) })
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
