//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package poller

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// wakeMsg is what a wakeup writes. An eventfd takes exactly eight bytes
// holding a native-endian count; a pipe takes anything, so both use this.
var wakeMsg = func() (b [8]byte) {
	binary.NativeEndian.PutUint64(b[:], 1)
	return b
}()

// waker is the descriptor a Poller watches besides the caller's, so that
// another goroutine can interrupt its Wait: an eventfd on Linux, the read
// end of a self-pipe elsewhere.
type waker struct {
	rfd, wfd int // equal for an eventfd

	// pending is set by the Wakeup that writes and cleared once Wait has
	// drained, so a storm of Wakeups costs one write per Wait.
	pending atomic.Bool
	closed  atomic.Bool
	// mu keeps Close from closing wfd under a Wakeup that is writing to
	// it, which could otherwise land in a recycled descriptor number.
	mu sync.RWMutex

	buf [64]byte // drain's buffer; only the Wait goroutine uses it
}

// wake makes rfd readable unless it already is.
func (w *waker) wake() error {
	if w.closed.Load() {
		return ErrClosed
	}
	if !w.pending.CompareAndSwap(false, true) {
		return nil
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed.Load() {
		return ErrClosed
	}
	err := w.write()
	if err != nil {
		w.pending.Store(false) // nothing was written, so let the next one try
	}
	return err
}

// write sends one wakeup. EAGAIN means the eventfd counter or the pipe is
// full, so rfd is readable anyway.
func (w *waker) write() error {
	for {
		_, err := unix.Write(w.wfd, wakeMsg[:])
		switch err {
		case nil, unix.EAGAIN:
			return nil
		case unix.EINTR:
			continue
		}
		return err
	}
}

// drain empties rfd and then re-arms wake. Clearing the flag only after
// the read means a Wakeup racing with it either finds the flag still set,
// and is covered by the Wait that is returning, or writes anew.
func (w *waker) drain() {
	for {
		n, err := unix.Read(w.rfd, w.buf[:])
		if err == unix.EINTR || (err == nil && n == len(w.buf)) {
			continue
		}
		break
	}
	w.pending.Store(false)
}

// close closes the waker's descriptors once no Wakeup is writing.
func (w *waker) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed.Swap(true) {
		return ErrClosed
	}
	err := unix.Close(w.rfd)
	if w.wfd != w.rfd {
		if werr := unix.Close(w.wfd); err == nil {
			err = werr
		}
	}
	return err
}
