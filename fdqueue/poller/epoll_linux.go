package poller

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// epollPoller uses epoll(7), level-triggered. The kernel keeps the
// interest list, so each change is one epoll_ctl and Wait costs nothing
// per idle descriptor.
type epollPoller struct {
	epfd     int
	w        *waker
	interest map[int]Events    // mirrors the kernel's list, for uniform errors and no-op Modify
	ctl      unix.EpollEvent   // epoll_ctl's argument, kept off the stack
	buf      []unix.EpollEvent // epoll_wait's output, reused across calls
}

func openEpoll() (Poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("poller: epoll_create1: %w", err)
	}
	w, err := newWaker()
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	p := &epollPoller{epfd: epfd, w: w, interest: make(map[int]Events)}
	if err := p.ctlOp(unix.EPOLL_CTL_ADD, w.rfd, unix.EPOLLIN); err != nil {
		w.close()
		unix.Close(epfd)
		return nil, err
	}
	return p, nil
}

func (p *epollPoller) Name() string { return "epoll" }

func (p *epollPoller) Register(fd int, ev Events) error {
	if p.epfd < 0 {
		return ErrClosed
	}
	if err := checkRegister(fd, ev, p.epfd, p.w.rfd); err != nil {
		return err
	}
	if _, ok := p.interest[fd]; ok {
		return fmt.Errorf("poller: epoll: descriptor %d: %w", fd, ErrRegistered)
	}
	if err := p.ctlOp(unix.EPOLL_CTL_ADD, fd, epollEvents(ev)); err != nil {
		return err
	}
	p.interest[fd] = ev
	return nil
}

func (p *epollPoller) Modify(fd int, ev Events) error {
	old, err := p.find(fd)
	if err != nil {
		return err
	}
	if err := checkEvents(ev); err != nil {
		return err
	}
	if ev == old {
		return nil
	}
	if err := p.ctlOp(unix.EPOLL_CTL_MOD, fd, epollEvents(ev)); err != nil {
		return err
	}
	p.interest[fd] = ev
	return nil
}

// Unregister forgets fd even when the kernel already has: EBADF or ENOENT
// mean fd was closed first, which drops it from the epoll set (unless it
// was duplicated; hence the rule to unregister before closing).
func (p *epollPoller) Unregister(fd int) error {
	if _, err := p.find(fd); err != nil {
		return err
	}
	delete(p.interest, fd)
	err := p.ctlOp(unix.EPOLL_CTL_DEL, fd, 0)
	if isGone(err) {
		return nil
	}
	return err
}

// find returns what a registered fd is watched for.
func (p *epollPoller) find(fd int) (Events, error) {
	if p.epfd < 0 {
		return 0, ErrClosed
	}
	if err := checkFd(fd); err != nil {
		return 0, err
	}
	ev, ok := p.interest[fd]
	if !ok {
		return 0, fmt.Errorf("poller: epoll: descriptor %d: %w", fd, ErrNotRegistered)
	}
	return ev, nil
}

// ctlOp applies one change to the kernel's interest list. The descriptor
// travels in the event's data, so Wait needs no lookup.
func (p *epollPoller) ctlOp(op, fd int, bits uint32) error {
	p.ctl = unix.EpollEvent{Events: bits, Fd: int32(fd)}
	if err := unix.EpollCtl(p.epfd, op, fd, &p.ctl); err != nil {
		return fmt.Errorf("poller: epoll_ctl fd %d: %w", fd, err)
	}
	return nil
}

func (p *epollPoller) Wait(events []Event, timeout time.Duration) (int, error) {
	if p.epfd < 0 {
		return 0, ErrClosed
	}
	buf := p.buffer(len(events))
	n, err := retry(timeout, func(left time.Duration) (int, error) {
		return unix.EpollWait(p.epfd, buf, millis(left))
	})
	if err != nil {
		return 0, fmt.Errorf("poller: epoll_wait: %w", err)
	}
	return p.collect(events, buf[:n]), nil
}

// buffer returns room for exactly as many events as the caller can take:
// asking the kernel for more and dropping the surplus would starve those
// descriptors, since epoll requeues what it delivered behind what it did
// not.
func (p *epollPoller) buffer(n int) []unix.EpollEvent {
	n = max(n, 1)
	if cap(p.buf) < n {
		p.buf = make([]unix.EpollEvent, n)
	}
	return p.buf[:n]
}

// collect copies the kernel's answer into events, draining the waker.
func (p *epollPoller) collect(events []Event, ready []unix.EpollEvent) int {
	out := 0
	for _, e := range ready {
		fd := int(e.Fd)
		if fd == p.w.rfd {
			p.w.drain()
			continue
		}
		if out < len(events) {
			events[out] = Event{Fd: fd, Events: fromEpoll(e.Events)}
			out++
		}
	}
	return out
}

func (p *epollPoller) Wakeup() error { return p.w.wake() }

func (p *epollPoller) Close() error {
	if p.epfd < 0 {
		return ErrClosed
	}
	err := unix.Close(p.epfd)
	p.epfd, p.interest, p.buf = -1, nil, nil
	if werr := p.w.close(); err == nil {
		err = werr
	}
	return err
}

// epollEvents translates an interest set into epoll's bits; EPOLLERR and
// EPOLLHUP are always reported and need not be asked for.
func epollEvents(ev Events) uint32 {
	var bits uint32
	if ev&Read != 0 {
		bits |= unix.EPOLLIN
	}
	if ev&Write != 0 {
		bits |= unix.EPOLLOUT
	}
	return bits
}

// fromEpoll translates epoll's result bits.
func fromEpoll(bits uint32) Events {
	if bits&(unix.EPOLLERR|unix.EPOLLHUP) != 0 {
		return Read | Write
	}
	var ev Events
	if bits&unix.EPOLLIN != 0 {
		ev |= Read
	}
	if bits&unix.EPOLLOUT != 0 {
		ev |= Write
	}
	return ev
}
