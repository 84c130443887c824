// Package poller waits for file descriptors to become ready.
//
// It is one small type over the operating system's readiness mechanisms
// (select, poll, epoll, kqueue), in the spirit of Python's selectors module:
// register a descriptor with the conditions of interest, change or drop that
// interest, and wait. The Poller keeps the registry of interests and checks
// every call; each backend under it keeps only its kernel calls. All
// backends are level-triggered, so a condition that is not dealt with is
// reported again by the next Wait.
//
// A Poller is meant for one goroutine (the event loop), except Wakeup, which
// any goroutine may call to make that loop's Wait return.
package poller

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Events is a set of readiness conditions.
type Events uint8

const (
	Read  Events = 1 << iota // readable, or EOF, or error
	Write                    // writable, or error

	// Edge, added to Read or Write, asks for edge triggering where the
	// backend has it (CanEdge): a condition is reported once when it
	// arises, not at every Wait while it holds. Then a reader must read
	// until the descriptor is drained before it waits, or it may wait
	// forever.
	Edge

	// Hup, in what Wait reports only, says that the descriptor has hung
	// up or failed: the peer has closed its side (a read gets EOF at
	// once), or an error is pending. It comes with Read, and with Write
	// unless only the peer's writing side closed.
	Hup
)

// String names the set, for messages and test failures.
func (e Events) String() string {
	if e&Edge != 0 && e != Edge {
		return (e &^ Edge).String() + "|edge"
	}
	if e&Hup != 0 && e != Hup {
		return (e &^ Hup).String() + "|hup"
	}
	switch e {
	case 0:
		return "none"
	case Read:
		return "read"
	case Write:
		return "write"
	case Read | Write:
		return "read|write"
	}
	return fmt.Sprintf("Events(%#x)", uint8(e))
}

// Event is one ready descriptor returned by Wait.
type Event struct {
	Fd int
	// Events holds the conditions that are ready. Error and hang-up
	// conditions (POLLERR, POLLHUP, POLLNVAL, EPOLLERR, EPOLLHUP, EV_EOF,
	// EV_ERROR) are always reported as Read|Write|Hup, whatever was asked
	// for, so that both readers and writers wake and meet the error on
	// their next call; a peer that closed only its writing side
	// (EPOLLRDHUP) as Read|Hup. select has no such conditions: it reports
	// them as readiness of the watched directions.
	Events Events
}

var (
	// ErrFdTooLarge is returned by the select backend for a descriptor at
	// or above FD_SETSIZE, which an fd_set cannot hold.
	ErrFdTooLarge = fmt.Errorf("descriptor too large for select (FD_SETSIZE is %d)", fdSetSize)
	// ErrClosed is returned when a closed poller is used.
	ErrClosed = errors.New("poller is closed")
	// ErrRegistered is returned by Register for a descriptor already watched.
	ErrRegistered = errors.New("descriptor already registered")
	// ErrNotRegistered is returned by Modify and Unregister for a
	// descriptor that is not watched.
	ErrNotRegistered = errors.New("descriptor not registered")
)

// A backend is one readiness mechanism's kernel calls. The Poller has
// checked every argument, and tracks what each descriptor is watched for,
// before it calls one.
type backend interface {
	// add starts watching fd, which is not watched, for ev.
	add(fd int, ev Events) error
	// modify changes what the watched fd is watched for, from old to ev.
	modify(fd int, old, ev Events) error
	// remove stops watching fd, which was watched for old.
	remove(fd int, old Events) error
	// wait fills events with ready descriptors, the waker's among them,
	// waiting up to timeout for one system call (see retry).
	wait(events []Event, timeout time.Duration) (int, error)
	// close releases the backend's own descriptors.
	close() error
}

// Poller watches descriptors for readiness.
type Poller struct {
	name     string
	b        backend
	w        *waker
	interest []Events // what each descriptor is watched for, indexed by descriptor; 0 if not registered
	events   []Event  // Wait's own buffer, as large as the caller's
	stats    Stats
	edge     bool // the backend has edge triggering
	closed   bool
}

// CanEdge reports whether the backend has edge triggering (epoll, kqueue),
// which Register and Modify then accept (the Edge flag).
func (p *Poller) CanEdge() bool { return p.edge }

// Stats counts what a Poller has asked of the kernel.
type Stats struct {
	Registers, Modifies, Unregisters uint64 // changes of interest made
	Waits                            uint64 // system waits, retries after EINTR included
	Events                           uint64 // descriptors reported ready, wake-ups excluded
}

// Stats returns the counts so far.
func (p *Poller) Stats() Stats { return p.stats }

// opener makes a backend that also watches the waker's read end.
type opener func(wakeFd int) (backend, error)

// Names lists the backends available on this operating system, best first.
func Names() []string {
	names := make([]string, len(backends))
	for i, b := range backends {
		names[i] = b.name
	}
	return names
}

// New opens the backend called name, or the best one when name is "".
func New(name string) (*Poller, error) {
	for _, b := range backends {
		if b.name == name || name == "" {
			p, err := openBackend(b.name, b.open)
			if err == nil {
				p.edge = b.edge
			}
			return p, err
		}
	}
	return nil, fmt.Errorf("no poller backend %q on %s; valid: %s",
		name, runtime.GOOS, strings.Join(Names(), ", "))
}

func openBackend(name string, o opener) (*Poller, error) {
	w, err := newWaker()
	if err != nil {
		return nil, err
	}
	b, err := o(w.rfd)
	if err != nil {
		w.close()
		return nil, err
	}
	return &Poller{name: name, b: b, w: w}, nil
}

// Name is the backend's name: "select", "poll", "epoll" or "kqueue".
func (p *Poller) Name() string { return p.name }

// Register starts watching fd for ev, which must not be empty. It fails
// with ErrRegistered if fd is already watched.
func (p *Poller) Register(fd int, ev Events) error {
	if err := p.check(fd, ev); err != nil {
		return err
	}
	if p.Watched(fd) != 0 {
		return ErrRegistered
	}
	p.stats.Registers++
	if err := p.b.add(fd, ev); err != nil {
		return err
	}
	if fd >= len(p.interest) {
		p.interest = append(p.interest, make([]Events, fd+1-len(p.interest))...)
	}
	p.interest[fd] = ev
	return nil
}

// Modify changes the conditions a registered fd is watched for.
func (p *Poller) Modify(fd int, ev Events) error {
	old, err := p.find(fd)
	if err != nil {
		return err
	}
	if err := p.check(fd, ev); err != nil || ev == old {
		return err
	}
	p.stats.Modifies++
	if err := p.b.modify(fd, old, ev); err != nil {
		return err
	}
	p.interest[fd] = ev
	return nil
}

// Unregister stops watching fd. Call it before closing fd: epoll and kqueue
// key their registrations on the open file, and a number closed and reused
// behind their back can leave stale or missing events. If fd was closed
// first all the same, Unregister still forgets it.
func (p *Poller) Unregister(fd int) error {
	old, err := p.find(fd)
	if err != nil {
		return err
	}
	p.interest[fd] = 0
	p.stats.Unregisters++
	if err := p.b.remove(fd, old); err != nil && !isGone(err) {
		return err
	}
	return nil
}

// Watched returns what fd is watched for, or 0.
func (p *Poller) Watched(fd int) Events {
	if fd < 0 || fd >= len(p.interest) {
		return 0
	}
	return p.interest[fd]
}

// check refuses a closed poller, its own descriptors, numbers no kernel hands out or too large
// for the 32-bit fields of pollfd and epoll_event, and empty event sets:
// watching for nothing is Unregister.
//
// It is kept out of line: a task's first wait on a descriptor registers it
// from the task's coroutine, whose stack is small, and the errors' frames
// inlined into Register would make it grow.
//
//go:noinline
func (p *Poller) check(fd int, ev Events) error {
	switch {
	case p.closed:
		return ErrClosed
	case fd < 0 || fd > math.MaxInt32:
		return unix.EBADF
	case fd == p.w.rfd || fd == p.w.wfd:
		return fmt.Errorf("descriptor %d belongs to the poller: %w", fd, unix.EINVAL)
	case ev&(Read|Write) == 0 || ev&^(Read|Write|Edge) != 0 || ev&Edge != 0 && !p.edge:
		return fmt.Errorf("events %v: %w", ev, unix.EINVAL)
	}
	return nil
}

// find returns what a registered fd is watched for.
func (p *Poller) find(fd int) (Events, error) {
	if p.closed {
		return 0, ErrClosed
	}
	ev := p.Watched(fd)
	if ev == 0 {
		return 0, ErrNotRegistered
	}
	return ev, nil
}

// Wait fills events with ready descriptors and returns how many it filled.
// A negative timeout waits forever, zero only polls. Returning 0 at the
// timeout, or after a Wakeup, is normal. If more descriptors are ready than
// events can hold, the rest are reported by later calls.
func (p *Poller) Wait(events []Event, timeout time.Duration) (int, error) {
	if p.closed {
		return 0, ErrClosed
	}
	// The backend reports the waker like any descriptor, in a buffer no
	// larger than the caller's: a descriptor the kernel could not report
	// this time is reported by the next Wait. Asking for one more and
	// dropping it would lose an edge-triggered event for good.
	// (Given no room at all, it still waits, for a Wakeup or the timeout,
	// and drops what it sees: pass room when edge-triggered.)
	n := max(len(events), 1)
	if cap(p.events) < n {
		p.events = make([]Event, n)
	}
	buf := p.events[:n]
	got, err := retry(timeout, func(left time.Duration) (int, error) {
		p.stats.Waits++
		return p.b.wait(buf, left)
	})
	if err != nil {
		return 0, err
	}
	out := 0
	for _, ev := range buf[:got] {
		if ev.Fd == p.w.rfd {
			p.w.drain()
		} else if out < len(events) {
			events[out] = ev
			out++
		}
	}
	p.stats.Events += uint64(out)
	return out, nil
}

// Wakeup makes a Wait in progress, or the next one, return promptly. Any
// goroutine may call it; wakeups not yet consumed by a Wait are merged into
// one.
func (p *Poller) Wakeup() error { return p.w.wake() }

// Close releases the poller's own descriptors. The watched descriptors are
// left alone.
func (p *Poller) Close() error {
	if p.closed {
		return ErrClosed
	}
	p.closed = true
	p.interest = nil
	err := p.b.close()
	if werr := p.w.close(); err == nil {
		err = werr
	}
	return err
}

// backendInfo names one way of waiting this operating system offers.
type backendInfo struct {
	name string
	open opener
	edge bool // the backend has edge triggering
}
