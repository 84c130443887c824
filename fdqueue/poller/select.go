//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package poller

import (
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fdSetSize is how many descriptors an fd_set holds, taken from the type
// itself: FdSet.Set does no bounds check, and the element type of Bits
// differs between systems.
const fdSetSize = int(unsafe.Sizeof(unix.FdSet{})) * 8

// selectBackend uses select(2), the lowest common denominator: descriptors
// must be below FD_SETSIZE.
type selectBackend struct {
	slots  []slot      // the watched descriptors, the waker's first
	index  map[int]int // fd -> position in slots, for O(1) remove
	rset   unix.FdSet  // what is watched, kept in step with slots
	wset   unix.FdSet
	rready unix.FdSet // copies of rset and wset that select overwrites
	wready unix.FdSet
	maxFd  int          // select's first argument is maxFd+1
	tv     unix.Timeval // here rather than on the stack to keep wait free of allocations
	cursor int          // where the next scan of the answer starts, see wait
}

type slot struct {
	fd int
	ev Events
}

func openSelect(wakeFd int) (backend, error) {
	b := &selectBackend{index: make(map[int]int), maxFd: -1}
	if err := b.add(wakeFd, Read); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *selectBackend) add(fd int, ev Events) error {
	if fd >= fdSetSize {
		return ErrFdTooLarge
	}
	b.index[fd] = len(b.slots)
	b.slots = append(b.slots, slot{fd, ev})
	b.watch(fd, ev)
	b.maxFd = max(b.maxFd, fd)
	return nil
}

func (b *selectBackend) modify(fd int, _, ev Events) error {
	b.slots[b.index[fd]].ev = ev
	b.watch(fd, ev)
	return nil
}

func (b *selectBackend) remove(fd int, _ Events) error {
	b.watch(fd, 0)
	i, last := b.index[fd], len(b.slots)-1
	b.slots[i] = b.slots[last]
	b.index[b.slots[i].fd] = i
	b.slots = b.slots[:last]
	delete(b.index, fd)
	if fd == b.maxFd {
		b.maxFd = -1
		for _, s := range b.slots {
			b.maxFd = max(b.maxFd, s.fd)
		}
	}
	return nil
}

// watch sets fd's bits in the interest sets to ev. fd is below fdSetSize.
func (b *selectBackend) watch(fd int, ev Events) {
	b.rset.Clear(fd)
	b.wset.Clear(fd)
	if ev&Read != 0 {
		b.rset.Set(fd)
	}
	if ev&Write != 0 {
		b.wset.Set(fd)
	}
}

// wait runs one select on fresh copies of the interest sets, which select
// overwrites with its answer. When events is too short for the answer, the
// scan resumes next time after the last one reported, so later descriptors
// are not starved.
func (b *selectBackend) wait(events []Event, timeout time.Duration) (int, error) {
	b.rready, b.wready = b.rset, b.wset
	var tv *unix.Timeval
	if timeout >= 0 {
		b.tv = unix.NsecToTimeval(timeout.Nanoseconds()) // rounds up to a microsecond
		tv = &b.tv
	}
	n, err := unix.Select(b.maxFd+1, &b.rready, &b.wready, nil, tv)
	if err == unix.EBADF {
		return b.reportClosed(events)
	}
	if err != nil {
		return 0, os.NewSyscallError("select", err)
	}
	out, start := 0, b.cursor
	for i := 0; i < len(b.slots) && n > 0 && out < len(events); i++ {
		j := (start + i) % len(b.slots)
		s := b.slots[j]
		var ev Events
		if s.ev&Read != 0 && b.rready.IsSet(s.fd) {
			ev |= Read
			n--
		}
		if s.ev&Write != 0 && b.wready.IsSet(s.fd) {
			ev |= Write
			n--
		}
		if ev != 0 {
			events[out] = Event{Fd: s.fd, Events: ev}
			out++
			b.cursor = j + 1
		}
	}
	return out, nil
}

// reportClosed handles select failing with EBADF, which it does as a whole
// when any watched descriptor was closed behind our back. Reporting those
// as Read|Write, like poll's POLLNVAL, lets the caller find and unregister
// them instead of every wait failing.
func (b *selectBackend) reportClosed(events []Event) (int, error) {
	out := 0
	for _, s := range b.slots {
		if out == len(events) {
			break
		}
		if _, err := unix.FcntlInt(uintptr(s.fd), unix.F_GETFD, 0); err == unix.EBADF {
			events[out] = Event{Fd: s.fd, Events: Read | Write}
			out++
		}
	}
	if out == 0 {
		return 0, os.NewSyscallError("select", unix.EBADF)
	}
	return out, nil
}

func (b *selectBackend) close() error { return nil }
