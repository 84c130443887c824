//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package poller

import (
	"fmt"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// kqueuePoller uses kqueue(2), level-triggered: one EVFILT_READ and one
// EVFILT_WRITE filter per descriptor, added and deleted as interest
// changes.
type kqueuePoller struct {
	kq       int
	w        *waker
	interest map[int]Events   // mirrors the kernel's filters
	changes  [2]unix.Kevent_t // at most one change per filter
	kevs     []unix.Kevent_t  // kevent's output, reused across calls
	pos      map[int]int      // fd -> its entry in Wait's output, to merge the two filters
	ts       unix.Timespec    // here rather than on the stack to keep Wait free of allocations
}

func openKqueue() (Poller, error) {
	kq, err := newKqueue()
	if err != nil {
		return nil, err
	}
	w, err := newWaker()
	if err != nil {
		unix.Close(kq)
		return nil, err
	}
	p := &kqueuePoller{kq: kq, w: w, interest: make(map[int]Events), pos: make(map[int]int)}
	if err := p.update(w.rfd, 0, Read); err != nil {
		w.close()
		unix.Close(kq)
		return nil, err
	}
	return p, nil
}

// newKqueue makes a close-on-exec kqueue. There is no kqueue1 everywhere,
// so the fork lock keeps a concurrent fork from inheriting it first.
func newKqueue() (int, error) {
	syscall.ForkLock.RLock()
	kq, err := unix.Kqueue()
	if err == nil {
		unix.CloseOnExec(kq)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, fmt.Errorf("poller: kqueue: %w", err)
	}
	return kq, nil
}

func (p *kqueuePoller) Name() string { return "kqueue" }

func (p *kqueuePoller) Register(fd int, ev Events) error {
	if p.kq < 0 {
		return ErrClosed
	}
	if err := checkRegister(fd, ev, p.kq, p.w.rfd, p.w.wfd); err != nil {
		return err
	}
	if _, ok := p.interest[fd]; ok {
		return fmt.Errorf("poller: kqueue: descriptor %d: %w", fd, ErrRegistered)
	}
	if err := p.update(fd, 0, ev); err != nil {
		p.update(fd, ev, 0) // a filter added before the failure must not linger
		return err
	}
	p.interest[fd] = ev
	return nil
}

func (p *kqueuePoller) Modify(fd int, ev Events) error {
	old, err := p.find(fd)
	if err != nil {
		return err
	}
	if err := checkEvents(ev); err != nil {
		return err
	}
	if err := p.update(fd, old, ev); err != nil {
		return err
	}
	p.interest[fd] = ev
	return nil
}

// Unregister forgets fd even when the kernel already has: closing a
// descriptor deletes its filters, and EV_DELETE then fails.
func (p *kqueuePoller) Unregister(fd int) error {
	old, err := p.find(fd)
	if err != nil {
		return err
	}
	delete(p.interest, fd)
	if err := p.update(fd, old, 0); !isGone(err) {
		return err
	}
	return nil
}

// find returns what a registered fd is watched for.
func (p *kqueuePoller) find(fd int) (Events, error) {
	if p.kq < 0 {
		return 0, ErrClosed
	}
	if err := checkFd(fd); err != nil {
		return 0, err
	}
	ev, ok := p.interest[fd]
	if !ok {
		return 0, fmt.Errorf("poller: kqueue: descriptor %d: %w", fd, ErrNotRegistered)
	}
	return ev, nil
}

// update adds and deletes filters to go from watching old to watching ev.
func (p *kqueuePoller) update(fd int, old, ev Events) error {
	changes := p.changes[:0]
	changes = filterChange(changes, fd, unix.EVFILT_READ, old&Read != 0, ev&Read != 0)
	changes = filterChange(changes, fd, unix.EVFILT_WRITE, old&Write != 0, ev&Write != 0)
	if len(changes) == 0 {
		return nil
	}
	for {
		_, err := unix.Kevent(p.kq, changes, nil, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("poller: kevent fd %d: %w", fd, err)
		}
		return nil
	}
}

// filterChange appends the change, if any, that takes one filter from had
// to want.
func filterChange(changes []unix.Kevent_t, fd, filter int, had, want bool) []unix.Kevent_t {
	var flags int
	switch {
	case want && !had:
		flags = unix.EV_ADD
	case had && !want:
		flags = unix.EV_DELETE
	default:
		return changes
	}
	var k unix.Kevent_t
	unix.SetKevent(&k, fd, filter, flags)
	return append(changes, k)
}

func (p *kqueuePoller) Wait(events []Event, timeout time.Duration) (int, error) {
	if p.kq < 0 {
		return 0, ErrClosed
	}
	kevs := p.buffer(len(events))
	n, err := retry(timeout, func(left time.Duration) (int, error) {
		var ts *unix.Timespec
		if left >= 0 {
			p.ts = unix.NsecToTimespec(left.Nanoseconds())
			ts = &p.ts
		}
		return unix.Kevent(p.kq, nil, kevs, ts)
	})
	if err != nil {
		return 0, fmt.Errorf("poller: kevent: %w", err)
	}
	return p.collect(events, kevs[:n]), nil
}

// buffer returns room for as many kevents as the caller can take events.
// Merging can only shrink that count, so nothing is dropped; dropping
// would starve those descriptors, as kqueue requeues what it delivered
// behind what it did not.
func (p *kqueuePoller) buffer(n int) []unix.Kevent_t {
	n = max(n, 1)
	if cap(p.kevs) < n {
		p.kevs = make([]unix.Kevent_t, n)
	}
	return p.kevs[:n]
}

// collect turns kevents into events, one per descriptor even when both
// its filters fired, and drains the waker.
func (p *kqueuePoller) collect(events []Event, kevs []unix.Kevent_t) int {
	out := 0
	for i := range kevs {
		k := &kevs[i]
		fd := int(k.Ident)
		if fd == p.w.rfd {
			p.w.drain()
			continue
		}
		ev := fromKevent(k)
		if j, ok := p.pos[fd]; ok {
			events[j].Events |= ev
			continue
		}
		if out < len(events) {
			if len(kevs) > 1 {
				p.pos[fd] = out
			}
			events[out] = Event{Fd: fd, Events: ev}
			out++
		}
	}
	clear(p.pos)
	return out
}

func (p *kqueuePoller) Wakeup() error { return p.w.wake() }

func (p *kqueuePoller) Close() error {
	if p.kq < 0 {
		return ErrClosed
	}
	err := unix.Close(p.kq)
	p.kq, p.interest, p.kevs = -1, nil, nil
	if werr := p.w.close(); err == nil {
		err = werr
	}
	return err
}

// fromKevent translates one kevent. EV_EOF (peer closed, or a pipe's other
// end gone) and EV_ERROR become Read|Write so that both sides wake.
func fromKevent(k *unix.Kevent_t) Events {
	if k.Flags&(unix.EV_EOF|unix.EV_ERROR) != 0 {
		return Read | Write
	}
	switch int(k.Filter) {
	case unix.EVFILT_READ:
		return Read
	case unix.EVFILT_WRITE:
		return Write
	}
	return 0
}
