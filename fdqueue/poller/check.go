//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package poller

import (
	"fmt"
	"math"

	"golang.org/x/sys/unix"
)

// checkFd refuses numbers no kernel hands out, and those too large for the
// 32-bit fields of pollfd and epoll_event, before they reach a system call.
func checkFd(fd int) error {
	if fd < 0 || fd > math.MaxInt32 {
		return fmt.Errorf("poller: descriptor %d: %w", fd, unix.EBADF)
	}
	return nil
}

// checkEvents refuses an empty set: watching for nothing is Unregister.
func checkEvents(ev Events) error {
	if ev == 0 || ev&^(Read|Write) != 0 {
		return fmt.Errorf("poller: events %v: %w", ev, unix.EINVAL)
	}
	return nil
}

// checkRegister validates Register's arguments and refuses the poller's
// own descriptors, which a caller could otherwise steal events from.
func checkRegister(fd int, ev Events, own ...int) error {
	if err := checkFd(fd); err != nil {
		return err
	}
	for _, o := range own {
		if fd == o {
			return fmt.Errorf("poller: descriptor %d belongs to the poller: %w", fd, unix.EINVAL)
		}
	}
	return checkEvents(ev)
}
