//go:build unix

package sigdump_test

import (
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/lwtask/lwtask/internal/sigdump"
)

// TestMain fails the package's tests if any leave a goroutine behind: a
// stopped On must leave none.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// deadline is how long a test waits for a signal it sent itself: long, as
// the machine may be busy. Nothing is timed; it only keeps a test that
// fails from hanging.
const deadline = time.Minute

// guard registers a channel of its own for SIGUSR1 for the rest of the
// test, so that a SIGUSR1 that no On is watching for is caught there
// rather than killing the test process. It returns the channel.
func guard(t *testing.T) <-chan os.Signal {
	t.Helper()
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	t.Cleanup(func() { signal.Stop(ch) })
	return ch
}

// kill sends SIGUSR1 to the test process itself.
func kill(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
}

func await[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(deadline):
		t.Fatalf("no %s after %v", what, deadline)
		panic("unreachable")
	}
}

// TestDump: each SIGUSR1 calls dump once, on a goroutine other than the
// test's, until stop.
func TestDump(t *testing.T) {
	guard(t)
	dumped := make(chan struct{}, 10)
	var n atomic.Int32
	stop := sigdump.On(func() {
		n.Add(1)
		dumped <- struct{}{}
	}, syscall.SIGUSR1)
	// One signal at a time: signals sent together may arrive as one.
	for i := range 3 {
		kill(t)
		await(t, dumped, fmt.Sprintf("dump for signal %d", i+1))
	}
	stop()
	if got := n.Load(); got != 3 {
		t.Fatalf("%d dumps for 3 signals", got)
	}
}

// TestStopTwice: stop may be called again, and at once from several
// goroutines; each call returns.
func TestStopTwice(t *testing.T) {
	stop := sigdump.On(func() {}, syscall.SIGUSR1)
	stop()
	stop()

	stop = sigdump.On(func() {}, syscall.SIGUSR1)
	done := make(chan struct{})
	for range 2 {
		go func() { stop(); done <- struct{}{} }()
	}
	await(t, done, "return from stop")
	await(t, done, "return from the second stop")
	stop()
}

// TestNoDumpAfterStop: a SIGUSR1 after stop calls no dump. The guard
// catches the signal so that it does not kill the process, and is how
// the test knows it arrived. Once stop has returned, On's goroutine is
// gone (TestMain's goleak checks that), so nothing is left to call dump.
func TestNoDumpAfterStop(t *testing.T) {
	caught := guard(t)
	var n atomic.Int32
	stop := sigdump.On(func() { n.Add(1) }, syscall.SIGUSR1)
	stop()
	kill(t)
	await(t, caught, "SIGUSR1 at the guard")
	if got := n.Load(); got != 0 {
		t.Fatalf("%d dumps after stop", got)
	}
}

// TestOtherSignal: On watches for the signals it is given and no other.
// With none, it watches for nothing, not for every signal as
// signal.Notify would (and SIGINT would no longer stop the program).
//
// A negative test: an On that did watch for SIGUSR1 would get each signal
// along with the guard and dump on its own goroutine, and the three
// signals give it time to; but nothing here waits for a dump that might
// come, so a broken On would most likely, not surely, fail it.
func TestOtherSignal(t *testing.T) {
	for _, sigs := range [][]os.Signal{{syscall.SIGUSR2}, nil} {
		t.Run(fmt.Sprint(sigs), func(t *testing.T) {
			caught := guard(t)
			var n atomic.Int32
			stop := sigdump.On(func() { n.Add(1) }, sigs...)
			for range 3 {
				kill(t)
				await(t, caught, "SIGUSR1 at the guard")
			}
			stop() // waits for a dump that might have started
			if got := n.Load(); got != 0 {
				t.Fatalf("On(%v): %d dumps for SIGUSR1", sigs, got)
			}
		})
	}
}

// TestStopWaitsForDump: stop, called while a dump runs, returns only once
// it has finished.
func TestStopWaitsForDump(t *testing.T) {
	guard(t)
	started, release := make(chan struct{}), make(chan struct{})
	var finished atomic.Bool
	stop := sigdump.On(func() {
		close(started)
		<-release
		finished.Store(true)
	}, syscall.SIGUSR1)
	kill(t)
	await(t, started, "dump")
	stopped := make(chan struct{})
	go func() {
		stop()
		stopped <- struct{}{}
	}()
	close(release)
	await(t, stopped, "return from stop")
	if !finished.Load() {
		t.Fatal("stop returned while the dump was running")
	}
}

// On has a program print its state when it gets SIGUSR1: here the program
// sends the signal itself, as kill -USR1 PID would.
func ExampleOn() {
	dumped := make(chan struct{})
	stop := sigdump.On(func() {
		fmt.Println("3 tasks: Plato eating, Socrates thinking, Euclid waiting for fork 0")
		dumped <- struct{}{}
	}, syscall.SIGUSR1)
	defer stop()

	syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	<-dumped
	// Output: 3 tasks: Plato eating, Socrates thinking, Euclid waiting for fork 0
}
