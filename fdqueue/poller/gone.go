package poller

import (
	"errors"

	"golang.org/x/sys/unix"
)

// isGone reports whether a kernel refused to drop a registration because
// it had already dropped it itself, the descriptor having been closed.
func isGone(err error) bool {
	return errors.Is(err, unix.EBADF) || errors.Is(err, unix.ENOENT)
}
