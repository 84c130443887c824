package poller

import (
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// epollBackend uses epoll(7), level-triggered. The kernel keeps the
// interest list, so each change is one epoll_ctl and a wait costs nothing
// per idle descriptor.
type epollBackend struct {
	epfd int
	ctl  unix.EpollEvent   // epoll_ctl's argument, kept off the stack
	buf  []unix.EpollEvent // epoll_wait's output, reused across calls
}

func openEpoll(wakeFd int) (backend, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	b := &epollBackend{epfd: epfd}
	if err := b.add(wakeFd, Read); err != nil {
		unix.Close(epfd)
		return nil, err
	}
	return b, nil
}

func (b *epollBackend) add(fd int, ev Events) error {
	return b.ctlOp(unix.EPOLL_CTL_ADD, fd, ev)
}

func (b *epollBackend) modify(fd int, _, ev Events) error {
	return b.ctlOp(unix.EPOLL_CTL_MOD, fd, ev)
}

func (b *epollBackend) remove(fd int, _ Events) error {
	return b.ctlOp(unix.EPOLL_CTL_DEL, fd, 0)
}

// ctlOp applies one change to the kernel's interest list. The descriptor
// travels in the event's data, so a wait needs no lookup. EPOLLERR and
// EPOLLHUP are always reported and need not be asked for.
func (b *epollBackend) ctlOp(op, fd int, ev Events) error {
	var bits uint32
	if ev&Read != 0 {
		bits |= unix.EPOLLIN | unix.EPOLLRDHUP
	}
	if ev&Write != 0 {
		bits |= unix.EPOLLOUT
	}
	if ev&Edge != 0 {
		bits |= unix.EPOLLET
	}
	b.ctl = unix.EpollEvent{Events: bits, Fd: int32(fd)}
	// Raw: epoll_ctl never blocks, so it needs none of the Go scheduler's
	// bookkeeping for system calls, whose frames would also make the stack
	// of the task registering grow.
	_, _, e := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(b.epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(&b.ctl)), 0, 0)
	if e != 0 {
		return os.NewSyscallError("epoll_ctl", e)
	}
	return nil
}

// wait asks the kernel for exactly as many events as the caller can take:
// asking for more and dropping the surplus would starve those descriptors,
// since epoll requeues what it delivered behind what it did not.
func (b *epollBackend) wait(events []Event, timeout time.Duration) (int, error) {
	if cap(b.buf) < len(events) {
		b.buf = make([]unix.EpollEvent, len(events))
	}
	buf := b.buf[:len(events)]
	n, err := unix.EpollWait(b.epfd, buf, millis(timeout))
	if err != nil {
		return 0, os.NewSyscallError("epoll_wait", err)
	}
	for i, e := range buf[:n] {
		events[i] = Event{Fd: int(e.Fd), Events: fromEpoll(e.Events)}
	}
	return n, nil
}

func (b *epollBackend) close() error { return os.NewSyscallError("close", unix.Close(b.epfd)) }

// fromEpoll translates epoll's result bits.
func fromEpoll(bits uint32) Events {
	if bits&(unix.EPOLLERR|unix.EPOLLHUP) != 0 {
		return Read | Write | Hup
	}
	var ev Events
	if bits&unix.EPOLLRDHUP != 0 {
		ev |= Read | Hup
	}
	if bits&unix.EPOLLIN != 0 {
		ev |= Read
	}
	if bits&unix.EPOLLOUT != 0 {
		ev |= Write
	}
	return ev
}
