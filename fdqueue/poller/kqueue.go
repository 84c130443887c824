//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package poller

import (
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// kqueueBackend uses kqueue(2), level-triggered: one EVFILT_READ and one
// EVFILT_WRITE filter per descriptor, added and deleted as interest
// changes.
type kqueueBackend struct {
	kq      int
	changes [2]unix.Kevent_t // at most one change per filter
	kevs    []unix.Kevent_t  // kevent's output, reused across calls
	pos     map[int]int      // fd -> its entry in wait's output, to merge the two filters
	ts      unix.Timespec    // here rather than on the stack to keep wait free of allocations
}

// openKqueue makes a close-on-exec kqueue. There is no kqueue1 everywhere,
// so the fork lock keeps a concurrent fork from inheriting it first.
func openKqueue(wakeFd int) (backend, error) {
	syscall.ForkLock.RLock()
	kq, err := unix.Kqueue()
	if err == nil {
		unix.CloseOnExec(kq)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, os.NewSyscallError("kqueue", err)
	}
	b := &kqueueBackend{kq: kq, pos: make(map[int]int)}
	if err := b.add(wakeFd, Read); err != nil {
		unix.Close(kq)
		return nil, err
	}
	return b, nil
}

func (b *kqueueBackend) add(fd int, ev Events) error {
	if err := b.update(fd, 0, ev); err != nil {
		b.update(fd, ev, 0) // a filter added before the failure must not linger
		return err
	}
	return nil
}

func (b *kqueueBackend) modify(fd int, old, ev Events) error { return b.update(fd, old, ev) }

func (b *kqueueBackend) remove(fd int, old Events) error { return b.update(fd, old, 0) }

// update adds and deletes filters to go from watching old to watching ev.
func (b *kqueueBackend) update(fd int, old, ev Events) error {
	changes := b.changes[:0]
	changes = filterChange(changes, fd, unix.EVFILT_READ, old&Read != 0, ev&Read != 0, ev&Edge != 0)
	changes = filterChange(changes, fd, unix.EVFILT_WRITE, old&Write != 0, ev&Write != 0, ev&Edge != 0)
	if len(changes) == 0 {
		return nil
	}
	for {
		_, err := unix.Kevent(b.kq, changes, nil, nil)
		if err != unix.EINTR {
			return os.NewSyscallError("kevent", err)
		}
	}
}

// filterChange appends the change, if any, that takes one filter from had
// to want; EV_CLEAR makes it edge-triggered.
func filterChange(changes []unix.Kevent_t, fd, filter int, had, want, edge bool) []unix.Kevent_t {
	var flags int
	switch {
	case want && !had:
		flags = unix.EV_ADD
		if edge {
			flags |= unix.EV_CLEAR
		}
	case had && !want:
		flags = unix.EV_DELETE
	default:
		return changes
	}
	var k unix.Kevent_t
	unix.SetKevent(&k, fd, filter, flags)
	return append(changes, k)
}

// wait asks for as many kevents as the caller can take events: merging the
// two filters of one descriptor can only shrink that count, so nothing is
// dropped. Dropping would starve those descriptors, as kqueue requeues
// what it delivered behind what it did not.
func (b *kqueueBackend) wait(events []Event, timeout time.Duration) (int, error) {
	if cap(b.kevs) < len(events) {
		b.kevs = make([]unix.Kevent_t, len(events))
	}
	kevs := b.kevs[:len(events)]
	var ts *unix.Timespec
	if timeout >= 0 {
		b.ts = unix.NsecToTimespec(timeout.Nanoseconds())
		ts = &b.ts
	}
	n, err := unix.Kevent(b.kq, nil, kevs, ts)
	if err != nil {
		return 0, os.NewSyscallError("kevent", err)
	}
	out := 0
	for i := range kevs[:n] {
		k := &kevs[i]
		fd, ev := int(k.Ident), fromKevent(k)
		if j, ok := b.pos[fd]; ok {
			events[j].Events |= ev
			continue
		}
		b.pos[fd] = out
		events[out] = Event{Fd: fd, Events: ev}
		out++
	}
	clear(b.pos)
	return out, nil
}

func (b *kqueueBackend) close() error { return os.NewSyscallError("close", unix.Close(b.kq)) }

// fromKevent translates one kevent. EV_EOF (peer closed, or a pipe's other
// end gone) and EV_ERROR become Read|Write so that both sides wake.
func fromKevent(k *unix.Kevent_t) Events {
	if k.Flags&(unix.EV_EOF|unix.EV_ERROR) != 0 {
		return Read | Write | Hup
	}
	switch int(k.Filter) {
	case unix.EVFILT_READ:
		return Read
	case unix.EVFILT_WRITE:
		return Write
	}
	return 0
}
