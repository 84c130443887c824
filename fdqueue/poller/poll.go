//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package poller

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// pollPoller uses poll(2): no descriptor limit, but the kernel walks the
// whole array on every call.
type pollPoller struct {
	w      *waker
	fds    []unix.PollFd // fds[0] is the waker; the caller's follow
	index  map[int]int   // fd -> position in fds, for O(1) Modify and Unregister
	cursor int           // where the next scan starts, see collect
	closed bool
}

func openPoll() (Poller, error) {
	w, err := newWaker()
	if err != nil {
		return nil, err
	}
	return &pollPoller{
		w:     w,
		fds:   []unix.PollFd{{Fd: int32(w.rfd), Events: unix.POLLIN}},
		index: make(map[int]int),
	}, nil
}

func (p *pollPoller) Name() string { return "poll" }

func (p *pollPoller) Register(fd int, ev Events) error {
	if p.closed {
		return ErrClosed
	}
	if err := checkRegister(fd, ev, p.w.rfd, p.w.wfd); err != nil {
		return err
	}
	if _, ok := p.index[fd]; ok {
		return fmt.Errorf("poller: poll: descriptor %d: %w", fd, ErrRegistered)
	}
	p.index[fd] = len(p.fds)
	p.fds = append(p.fds, unix.PollFd{Fd: int32(fd), Events: pollEvents(ev)})
	return nil
}

func (p *pollPoller) Modify(fd int, ev Events) error {
	i, err := p.find(fd)
	if err != nil {
		return err
	}
	if err := checkEvents(ev); err != nil {
		return err
	}
	p.fds[i].Events = pollEvents(ev)
	return nil
}

// Unregister moves the last entry into the freed slot, which is why
// positions live in a map rather than being derived.
func (p *pollPoller) Unregister(fd int) error {
	i, err := p.find(fd)
	if err != nil {
		return err
	}
	last := len(p.fds) - 1
	p.fds[i] = p.fds[last]
	p.index[int(p.fds[i].Fd)] = i
	p.fds = p.fds[:last]
	delete(p.index, fd)
	return nil
}

// find returns fd's position in fds.
func (p *pollPoller) find(fd int) (int, error) {
	if p.closed {
		return 0, ErrClosed
	}
	if err := checkFd(fd); err != nil {
		return 0, err
	}
	i, ok := p.index[fd]
	if !ok {
		return 0, fmt.Errorf("poller: poll: descriptor %d: %w", fd, ErrNotRegistered)
	}
	return i, nil
}

func (p *pollPoller) Wait(events []Event, timeout time.Duration) (int, error) {
	if p.closed {
		return 0, ErrClosed
	}
	n, err := retry(timeout, func(left time.Duration) (int, error) {
		return unix.Poll(p.fds, millis(left))
	})
	if err != nil {
		return 0, fmt.Errorf("poller: poll: %w", err)
	}
	return p.collect(events, n), nil
}

// collect turns the n entries poll marked into events. When events is too
// short, the scan resumes next time after the last one reported, so the
// descriptors late in the array are not starved.
func (p *pollPoller) collect(events []Event, ready int) int {
	if ready > 0 && p.fds[0].Revents != 0 {
		p.w.drain()
		ready--
	}
	users := p.fds[1:]
	out := 0
	start := p.cursor
	for i := 0; i < len(users) && ready > 0 && out < len(events); i++ {
		j := (start + i) % len(users)
		pfd := &users[j]
		if pfd.Revents == 0 {
			continue
		}
		ready--
		events[out] = Event{Fd: int(pfd.Fd), Events: fromPoll(pfd.Revents)}
		out++
		p.cursor = j + 1
	}
	return out
}

func (p *pollPoller) Wakeup() error { return p.w.wake() }

func (p *pollPoller) Close() error {
	if p.closed {
		return ErrClosed
	}
	p.closed = true
	p.fds, p.index = nil, nil
	return p.w.close()
}

// pollEvents translates an interest set into poll's bits.
func pollEvents(ev Events) int16 {
	var bits int16
	if ev&Read != 0 {
		bits |= unix.POLLIN
	}
	if ev&Write != 0 {
		bits |= unix.POLLOUT
	}
	return bits
}

// fromPoll translates poll's result bits. POLLNVAL (closed behind our back)
// is treated like an error so the caller wakes up and unregisters it,
// instead of the loop spinning on it unseen.
func fromPoll(revents int16) Events {
	if revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 {
		return Read | Write
	}
	var ev Events
	if revents&unix.POLLIN != 0 {
		ev |= Read
	}
	if revents&unix.POLLOUT != 0 {
		ev |= Write
	}
	return ev
}
