//go:build darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package poller

// newWaker makes a self-pipe, the portable stand-in for an eventfd.
func newWaker() (*waker, error) {
	r, w, err := newPipe()
	if err != nil {
		return nil, err
	}
	return &waker{rfd: r, wfd: w}, nil
}
