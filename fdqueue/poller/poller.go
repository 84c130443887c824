// Package poller waits for file descriptors to become ready.
//
// It is one small interface over the operating system's readiness
// mechanisms (select, poll, epoll, kqueue), in the spirit of Python's
// selectors module: register a descriptor with the conditions of interest,
// change or drop that interest, and wait. All backends are level-triggered,
// so a condition that is not dealt with is reported again by the next Wait.
//
// A Poller is meant for one goroutine (the event loop), except Wakeup, which
// any goroutine may call to make that loop's Wait return.
package poller

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"
)

// Events is a set of readiness conditions.
type Events uint8

const (
	Read  Events = 1 << iota // readable, or EOF, or error
	Write                    // writable, or error
)

// String names the set, for messages and test failures.
func (e Events) String() string {
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
	// EV_ERROR) are always reported as Read|Write, whatever was asked for,
	// so that both readers and writers wake and meet the error on their next
	// call. select has no such conditions: it reports them as readiness of
	// the watched directions.
	Events Events
}

// Poller watches descriptors for readiness.
type Poller interface {
	// Name is the backend's name: "select", "poll", "epoll" or "kqueue".
	Name() string
	// Register starts watching fd for ev (which must not be empty).
	// It fails with ErrRegistered if fd is already watched.
	Register(fd int, ev Events) error
	// Modify changes the conditions a registered fd is watched for.
	Modify(fd int, ev Events) error
	// Unregister stops watching fd. Call it before closing fd: epoll and
	// kqueue key their registrations on the open file, and a number closed
	// and reused behind their back can leave stale or missing events.
	Unregister(fd int) error
	// Wait fills events with ready descriptors and returns how many it
	// filled. A negative timeout waits forever, zero only polls. Returning
	// 0 at the timeout, or after a Wakeup, is normal. If more descriptors
	// are ready than events can hold, the rest are reported by later calls.
	Wait(events []Event, timeout time.Duration) (int, error)
	// Wakeup makes a Wait in progress, or the next one, return promptly.
	// Any goroutine may call it; wakeups not yet consumed by a Wait are
	// merged into one.
	Wakeup() error
	// Close releases the poller's own descriptors. The watched descriptors
	// are left alone.
	Close() error
}

var (
	// ErrFdTooLarge is returned by the select backend for a descriptor at
	// or above FD_SETSIZE, which an fd_set cannot hold.
	ErrFdTooLarge = errors.New("poller: descriptor is >= FD_SETSIZE, too large for select")
	// ErrClosed is returned when a closed poller is used.
	ErrClosed = errors.New("poller: poller is closed")
	// ErrRegistered is returned by Register for a descriptor already watched.
	ErrRegistered = errors.New("poller: descriptor already registered")
	// ErrNotRegistered is returned by Modify and Unregister for a
	// descriptor that is not watched.
	ErrNotRegistered = errors.New("poller: descriptor not registered")
)

// backend is one way of waiting this operating system offers.
type backend struct {
	name string
	open func() (Poller, error)
}

// Names lists the backends available on this operating system, best first.
func Names() []string {
	names := make([]string, len(backends))
	for i, b := range backends {
		names[i] = b.name
	}
	return names
}

// New opens the backend called name, or the best one when name is "".
func New(name string) (Poller, error) {
	if name == "" && len(backends) > 0 {
		return backends[0].open()
	}
	for _, b := range backends {
		if b.name == name {
			return b.open()
		}
	}
	return nil, fmt.Errorf("poller: no backend %q on %s; valid: %s",
		name, runtime.GOOS, strings.Join(Names(), ", "))
}
