//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package poller

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// pollBackend uses poll(2): no descriptor limit, but the kernel walks the
// whole array on every call.
type pollBackend struct {
	fds    []unix.PollFd
	index  map[int]int // fd -> position in fds, for O(1) modify and remove
	cursor int         // where the next scan of the answer starts, see wait
}

func openPoll(wakeFd int) (backend, error) {
	b := &pollBackend{index: make(map[int]int)}
	b.add(wakeFd, Read)
	return b, nil
}

func (b *pollBackend) add(fd int, ev Events) error {
	b.index[fd] = len(b.fds)
	b.fds = append(b.fds, unix.PollFd{Fd: int32(fd), Events: pollEvents(ev)})
	return nil
}

func (b *pollBackend) modify(fd int, _, ev Events) error {
	b.fds[b.index[fd]].Events = pollEvents(ev)
	return nil
}

// remove moves the last entry into the freed slot, which is why positions
// live in a map rather than being derived.
func (b *pollBackend) remove(fd int, _ Events) error {
	i, last := b.index[fd], len(b.fds)-1
	b.fds[i] = b.fds[last]
	b.index[int(b.fds[i].Fd)] = i
	b.fds = b.fds[:last]
	delete(b.index, fd)
	return nil
}

// wait runs one poll. When events is too short for the answer, the scan
// resumes next time after the last entry reported, so that the
// descriptors late in the array are not starved.
func (b *pollBackend) wait(events []Event, timeout time.Duration) (int, error) {
	ready, err := unix.Poll(b.fds, millis(timeout))
	if err != nil {
		return 0, os.NewSyscallError("poll", err)
	}
	out, start := 0, b.cursor
	for i := 0; i < len(b.fds) && ready > 0 && out < len(events); i++ {
		j := (start + i) % len(b.fds)
		pfd := &b.fds[j]
		if pfd.Revents == 0 {
			continue
		}
		ready--
		events[out] = Event{Fd: int(pfd.Fd), Events: fromPoll(pfd.Revents)}
		out++
		b.cursor = j + 1
	}
	return out, nil
}

func (b *pollBackend) close() error { return nil }

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
		return Read | Write | Hup
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
