//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package poller

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkWait measures Wait with one ready pipe among n registered
// descriptors. The idle ones are duplicates of one empty pipe's read end,
// which keeps them below FD_SETSIZE for select.
func BenchmarkWait(b *testing.B) {
	for _, name := range Names() {
		for _, n := range []int{10, 1000} {
			b.Run(fmt.Sprintf("%s/n=%d", name, n), func(b *testing.B) {
				benchmarkWait(b, name, n)
			})
		}
	}
}

func benchmarkWait(b *testing.B, name string, n int) {
	p := open(b, name)
	r, w := pipe(b)
	write(b, w)
	mustRegister(b, p, r, Read)
	idle, _ := pipe(b)
	for range n - 1 {
		fd, err := unix.Dup(idle)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { unix.Close(fd) })
		if err := p.Register(fd, Read); errors.Is(err, ErrFdTooLarge) {
			b.Skip(err)
		} else if err != nil {
			b.Fatal(err)
		}
	}
	events := make([]Event, 16)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if got, err := p.Wait(events, 0); got != 1 || err != nil {
			b.Fatalf("Wait = %d, %v; want 1", got, err)
		}
	}
}

// BenchmarkWakeup measures a Wakeup and the Wait that consumes it.
func BenchmarkWakeup(b *testing.B) {
	for _, name := range Names() {
		b.Run(name, func(b *testing.B) {
			p := open(b, name)
			events := make([]Event, 16)
			b.ReportAllocs()
			for range b.N {
				if err := p.Wakeup(); err != nil {
					b.Fatal(err)
				}
				if _, err := p.Wait(events, -1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestWaitDoesNotAllocate guards the hot path, timeouts included.
func TestWaitDoesNotAllocate(t *testing.T) {
	forEach(t, func(t *testing.T, p *Poller) {
		r, w := pipe(t)
		write(t, w)
		mustRegister(t, p, r, Read)
		mustRegister(t, p, w, Write)
		events := make([]Event, 4)
		p.Wait(events, 0) // first use may size buffers
		allocs := testing.AllocsPerRun(100, func() {
			if n, err := p.Wait(events, time.Second); n != 2 || err != nil {
				t.Fatalf("Wait = %d, %v; want 2", n, err)
			}
		})
		if allocs != 0 {
			t.Fatalf("Wait allocates %v times per call", allocs)
		}
	})
}
