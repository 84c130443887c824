package scheduler

import "time"

// idleWaiter is the event source of a scheduler with no descriptors to
// watch: it sleeps until the next timer or a wake-up from Post or Stop.
type idleWaiter struct {
	wake chan struct{} // one buffered token: duplicate wake-ups merge
}

func newIdleWaiter() *idleWaiter { return &idleWaiter{wake: make(chan struct{}, 1)} }

func (w *idleWaiter) Parked() int { return 0 }

func (w *idleWaiter) Wakeup() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *idleWaiter) Wait(timeout time.Duration) error {
	switch {
	case timeout == 0:
		return nil
	case timeout < 0:
		<-w.wake
		return nil
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-w.wake:
	case <-timer.C:
	}
	return nil
}
