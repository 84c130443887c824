//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package poller

import (
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fdSetSize is how many descriptors an fd_set holds, taken from the type
// itself: FdSet.Set does no bounds check, and the element type of Bits
// differs between systems.
const fdSetSize = int(unsafe.Sizeof(unix.FdSet{})) * 8

// selectPoller uses select(2), the lowest common denominator: descriptors
// must be below FD_SETSIZE.
type selectPoller struct {
	w      *waker
	slots  []slot      // the caller's descriptors
	index  map[int]int // fd -> position in slots, for O(1) Unregister
	rset   unix.FdSet  // what is watched, kept in step with slots
	wset   unix.FdSet
	rready unix.FdSet // copies of rset and wset that select overwrites
	wready unix.FdSet
	maxFd  int          // select's first argument is maxFd+1
	tv     unix.Timeval // here rather than on the stack to keep Wait free of allocations
	cursor int          // where the next scan starts, see collect
	closed bool
}

type slot struct {
	fd int
	ev Events
}

func openSelect() (Poller, error) {
	w, err := newWaker()
	if err != nil {
		return nil, err
	}
	if w.rfd >= fdSetSize {
		w.close()
		return nil, fmt.Errorf("poller: select: wakeup descriptor %d: %w", w.rfd, ErrFdTooLarge)
	}
	p := &selectPoller{w: w, index: make(map[int]int), maxFd: w.rfd}
	p.rset.Set(w.rfd)
	return p, nil
}

func (p *selectPoller) Name() string { return "select" }

func (p *selectPoller) Register(fd int, ev Events) error {
	if p.closed {
		return ErrClosed
	}
	if err := checkRegister(fd, ev, p.w.rfd, p.w.wfd); err != nil {
		return err
	}
	if fd >= fdSetSize {
		return fmt.Errorf("poller: select: descriptor %d (FD_SETSIZE is %d): %w", fd, fdSetSize, ErrFdTooLarge)
	}
	if _, ok := p.index[fd]; ok {
		return fmt.Errorf("poller: select: descriptor %d: %w", fd, ErrRegistered)
	}
	p.index[fd] = len(p.slots)
	p.slots = append(p.slots, slot{fd, ev})
	p.watch(fd, ev)
	p.maxFd = max(p.maxFd, fd)
	return nil
}

func (p *selectPoller) Modify(fd int, ev Events) error {
	i, err := p.find(fd)
	if err != nil {
		return err
	}
	if err := checkEvents(ev); err != nil {
		return err
	}
	p.slots[i].ev = ev
	p.watch(fd, ev)
	return nil
}

func (p *selectPoller) Unregister(fd int) error {
	i, err := p.find(fd)
	if err != nil {
		return err
	}
	p.watch(fd, 0)
	last := len(p.slots) - 1
	p.slots[i] = p.slots[last]
	p.index[p.slots[i].fd] = i
	p.slots = p.slots[:last]
	delete(p.index, fd)
	if fd == p.maxFd {
		p.maxFd = p.highestFd()
	}
	return nil
}

// find returns fd's position in slots.
func (p *selectPoller) find(fd int) (int, error) {
	if p.closed {
		return 0, ErrClosed
	}
	if err := checkFd(fd); err != nil {
		return 0, err
	}
	i, ok := p.index[fd]
	if !ok {
		return 0, fmt.Errorf("poller: select: descriptor %d: %w", fd, ErrNotRegistered)
	}
	return i, nil
}

// watch sets fd's bits in the interest sets to ev. fd is below fdSetSize.
func (p *selectPoller) watch(fd int, ev Events) {
	p.rset.Clear(fd)
	p.wset.Clear(fd)
	if ev&Read != 0 {
		p.rset.Set(fd)
	}
	if ev&Write != 0 {
		p.wset.Set(fd)
	}
}

// highestFd finds the new maximum after the old one was unregistered.
func (p *selectPoller) highestFd() int {
	high := p.w.rfd
	for _, s := range p.slots {
		high = max(high, s.fd)
	}
	return high
}

func (p *selectPoller) Wait(events []Event, timeout time.Duration) (int, error) {
	if p.closed {
		return 0, ErrClosed
	}
	n, err := retry(timeout, p.selectOnce)
	if err == unix.EBADF {
		return p.reportClosed(events, err)
	}
	if err != nil {
		return 0, fmt.Errorf("poller: select: %w", err)
	}
	return p.collect(events, n), nil
}

// selectOnce runs one select(2) on fresh copies of the interest sets,
// which select overwrites with its answer.
func (p *selectPoller) selectOnce(left time.Duration) (int, error) {
	p.rready, p.wready = p.rset, p.wset
	var tv *unix.Timeval
	if left >= 0 {
		p.tv = unix.NsecToTimeval(left.Nanoseconds()) // rounds up to a microsecond
		tv = &p.tv
	}
	return unix.Select(p.maxFd+1, &p.rready, &p.wready, nil, tv)
}

// collect turns select's answer into events, n being select's count of set
// bits. When events is too short, the scan resumes next time after the
// last one reported, so later descriptors are not starved.
func (p *selectPoller) collect(events []Event, n int) int {
	if p.rready.IsSet(p.w.rfd) {
		p.w.drain()
		n--
	}
	out := 0
	start := p.cursor
	for i := 0; i < len(p.slots) && n > 0 && out < len(events); i++ {
		j := (start + i) % len(p.slots)
		s := p.slots[j]
		var ev Events
		if s.ev&Read != 0 && p.rready.IsSet(s.fd) {
			ev |= Read
			n--
		}
		if s.ev&Write != 0 && p.wready.IsSet(s.fd) {
			ev |= Write
			n--
		}
		if ev != 0 {
			events[out] = Event{Fd: s.fd, Events: ev}
			out++
			p.cursor = j + 1
		}
	}
	return out
}

// reportClosed handles select failing with EBADF, which it does as a whole
// when any watched descriptor was closed behind our back. Reporting those
// as Read|Write, like poll's POLLNVAL, lets the caller find and unregister
// them instead of every Wait failing.
func (p *selectPoller) reportClosed(events []Event, err error) (int, error) {
	out := 0
	for _, s := range p.slots {
		if out == len(events) {
			break
		}
		if _, ferr := unix.FcntlInt(uintptr(s.fd), unix.F_GETFD, 0); ferr == unix.EBADF {
			events[out] = Event{Fd: s.fd, Events: Read | Write}
			out++
		}
	}
	if out == 0 && len(events) > 0 {
		return 0, fmt.Errorf("poller: select: %w", err)
	}
	return out, nil
}

func (p *selectPoller) Wakeup() error { return p.w.wake() }

func (p *selectPoller) Close() error {
	if p.closed {
		return ErrClosed
	}
	p.closed = true
	p.slots, p.index = nil, nil
	return p.w.close()
}
