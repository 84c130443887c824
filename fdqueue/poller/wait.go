//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package poller

import (
	"errors"
	"math"
	"time"

	"golang.org/x/sys/unix"
)

// retry runs one system wait at a time, each given the time still left,
// until one reports something, one fails with an error other than EINTR,
// or the timeout has run out. Go's runtime interrupts threads with signals
// (SIGURG for preemption) and the kernel never restarts these waits, so
// EINTR is routine; the timeout is measured on the monotonic clock so that
// retries neither restart nor shorten it. A wait that returns empty-handed
// before the deadline is retried too, so Wait never returns early.
func retry(timeout time.Duration, wait func(left time.Duration) (int, error)) (int, error) {
	var start time.Time
	if timeout > 0 {
		start = time.Now()
	}
	left := timeout
	for {
		n, err := wait(min(left, maxSleep))
		if n > 0 || (err != nil && !errors.Is(err, unix.EINTR)) {
			return n, err
		}
		if timeout == 0 {
			return 0, nil
		}
		if timeout > 0 {
			left = timeout - time.Since(start)
			if left <= 0 {
				return 0, nil
			}
		}
	}
}

// maxSleep caps one system wait, so that a huge timeout cannot overflow
// the kernel's time fields (a 32-bit tv_sec, int milliseconds); retry
// simply waits again.
const maxSleep = 24 * time.Hour

// millis converts a wait to poll's and epoll's milliseconds, rounding up so
// that a short wait sleeps instead of busy-polling; negative means forever.
func millis(d time.Duration) int {
	if d < 0 {
		return -1
	}
	ms := d / time.Millisecond
	if d%time.Millisecond != 0 {
		ms++
	}
	return int(min(ms, math.MaxInt32))
}
