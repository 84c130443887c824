package lwtask

import (
	"context"
	"errors"
	"net"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Loops is a group of Runtimes, one event loop per core, each running on
// an OS thread of its own: a server that outgrows one loop serves with
// several behind one API, as gnet's multicore mode does. Each loop is an
// ordinary Runtime with its own tasks; tasks of different loops do not
// share queues, channels or utensils, and talk only through Post.
type Loops struct {
	// OnTemporaryError, if set, is given to the listeners ListenAndServe
	// makes: see Listener.OnTemporaryError.
	OnTemporaryError func(err error, retryIn time.Duration)

	rts       []*Runtime
	next      int // round robin of handed-off connections: loop 0's alone
	mu        sync.Mutex
	listeners []*Listener // closed when Run returns, whatever their accepting tasks did
}

// NewLoops returns n loops (at least 1), each a Runtime made with opts.
func NewLoops(n int, opts ...Option) (*Loops, error) {
	n = max(n, 1)
	l := &Loops{}
	for range n {
		rt, err := New(opts...)
		if err != nil {
			l.Close()
			return nil, err
		}
		l.rts = append(l.rts, rt)
	}
	return l, nil
}

// Len returns the number of loops.
func (l *Loops) Len() int { return len(l.rts) }

// Loop returns loop i's Runtime, to start tasks on before Run, or from its
// own tasks and posted functions while it runs.
func (l *Loops) Loop(i int) *Runtime { return l.rts[i] }

// Post runs f on loop i's goroutine between its steps; see Runtime.Post.
// Any goroutine may call it.
func (l *Loops) Post(i int, f func()) error { return l.rts[i].Post(f) }

// SetPanicHandler sets the panic policy of every loop. By default a task's
// panic ends the loop it ran on, and with it every other loop: Run returns
// the *PanicError. With a handler only the task ends, as with
// Runtime.SetPanicHandler.
func (l *Loops) SetPanicHandler(h func(*PanicError)) {
	for _, rt := range l.rts {
		rt.SetPanicHandler(h)
	}
}

// Run runs every loop, each on a goroutine locked to an OS thread of its
// own, until all have returned, and returns the first error. A loop that
// ends with an error (a panic, a deadlock, its poller failing) stops the
// others.
func (l *Loops) Run() error { return l.run(context.Background()) }

// RunContext is Run, stopped when ctx is done. The tasks' own contexts
// derive from ctx, as with Runtime.RunContext.
func (l *Loops) RunContext(ctx context.Context) error { return l.run(ctx) }

func (l *Loops) run(ctx context.Context) error {
	defer l.closeListeners()
	errs := make([]error, len(l.rts))
	var wg sync.WaitGroup
	for i, rt := range l.rts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The loop's thread is its own: it never hands its tasks to
			// another, and the Go scheduler keeps other goroutines off it.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			if errs[i] = rt.RunContext(ctx); errs[i] != nil {
				l.Stop()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// closeListeners closes what listen opened: an accepting task that was
// ended before it ran, or a raw step's, which has no deferred calls, may
// have left a listener open.
func (l *Loops) closeListeners() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ln := range l.listeners {
		ln.Close() // ErrClosed if its task closed it: that is as good
	}
	l.listeners = nil
}

// keep notes listeners for closeListeners.
func (l *Loops) keep(lns ...*Listener) {
	l.mu.Lock()
	l.listeners = append(l.listeners, lns...)
	l.mu.Unlock()
}

// Stop stops every loop; see Runtime.Stop. Any goroutine may call it.
func (l *Loops) Stop() {
	for _, rt := range l.rts {
		rt.Stop()
	}
}

// Close releases every loop's poller. Call it once Run has returned.
func (l *Loops) Close() error {
	var errs []error
	for _, rt := range l.rts {
		errs = append(errs, rt.Close())
	}
	return errors.Join(errs...)
}

// ListenAndServe listens on a TCP address and serves each connection
// accepted with handle, in a generator-style task on the loop that got it.
// Where the system has SO_REUSEPORT (Linux, the BSDs, macOS), every loop
// listens on the address itself and the kernel spreads the connections;
// elsewhere loop 0 accepts them all and hands them round robin. It returns
// the address listened on (with the port chosen, for port 0). The
// listeners close when their loops stop.
func (l *Loops) ListenAndServe(network, address string, handle func(t *Task, c *Conn)) (net.Addr, error) {
	return l.listen(network, address, func(rt *Runtime, c *Conn) {
		rt.Go(c.f.name, func(t *Task) { handle(t, c) })
	}, func(rt *Runtime, ln *Listener) {
		rt.Go("accept on "+ln.Addr().String(), func(t *Task) {
			defer ln.Close()
			for {
				c, err := ln.Accept(t)
				if err != nil {
					return
				}
				rt.Go(c.f.name, func(t *Task) { handle(t, c) })
			}
		})
	})
}

// ListenAndServeSteps is ListenAndServe for a StepHandler: each connection
// is a raw step task (see Runtime.ServeSteps).
func (l *Loops) ListenAndServeSteps(network, address string, newHandler func(c *Conn) StepHandler) (net.Addr, error) {
	return l.listen(network, address, func(rt *Runtime, c *Conn) {
		rt.goStepConn(c, newHandler)
	}, func(rt *Runtime, ln *Listener) {
		rt.ServeSteps(ln, newHandler)
	})
}

// listen sets up the loops' listeners: one each with SO_REUSEPORT, started
// with serveAll, or one on loop 0 whose connections go round robin to the
// loops, each served with serveOne on its own loop.
func (l *Loops) listen(network, address string, serveOne func(*Runtime, *Conn), serveAll func(*Runtime, *Listener)) (net.Addr, error) {
	if err := checkNetwork("listen", network); err != nil || network == "unix" {
		if err == nil {
			err = &net.OpError{Op: "listen", Net: network, Err: errors.New("Loops listen on TCP only")}
		}
		return nil, err
	}
	if reusePort && len(l.rts) > 1 {
		lns, err := l.listenEach(network, address)
		if err != nil {
			return nil, err
		}
		l.keep(lns...)
		for i, ln := range lns {
			ln.OnTemporaryError = l.OnTemporaryError
			serveAll(l.rts[i], ln)
		}
		return lns[0].Addr(), nil
	}
	ln, err := l.rts[0].Listen(network, address)
	if err != nil {
		return nil, err
	}
	l.keep(ln)
	ln.OnTemporaryError = l.OnTemporaryError
	// The other loops have nothing to wait for but what loop 0 hands
	// them: each holds its Run open until the accepting ends.
	releases := make([]func(), len(l.rts))
	for i, rt := range l.rts[1:] {
		releases[i+1] = rt.Hold()
	}
	rt0 := l.rts[0]
	rt0.Go("accept on "+ln.Addr().String(), func(t *Task) {
		defer func() {
			for i, rt := range l.rts[1:] {
				rt.Post(releases[i+1])
			}
		}()
		defer ln.Close()
		for {
			c, err := ln.Accept(t)
			if err != nil {
				return
			}
			l.handOff(c, serveOne)
		}
	})
	return ln.Addr(), nil
}

// listenEach makes one listener per loop on the same address, with
// SO_REUSEPORT; for port 0, the port the first one got.
func (l *Loops) listenEach(network, address string) ([]*Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = setReusePort(int(fd))
		})
		return errors.Join(err, serr)
	}}
	var lns []*Listener
	fail := func(err error) ([]*Listener, error) {
		for _, ln := range lns {
			ln.Close()
		}
		return nil, err
	}
	for i, rt := range l.rts {
		nl, err := lc.Listen(context.Background(), network, address)
		if err != nil {
			return fail(err)
		}
		ln, err := rt.adoptListener(nl, true)
		if err != nil {
			return fail(err)
		}
		lns = append(lns, ln)
		if i == 0 {
			address = ln.Addr().String() // the port chosen, if it was 0
		}
	}
	return lns, nil
}

// handOff gives c, accepted on loop 0, to the next loop round robin: its
// descriptor leaves loop 0's queues and joins the other loop's, where
// serve takes it up.
func (l *Loops) handOff(c *Conn, serve func(*Runtime, *Conn)) {
	l.next = (l.next + 1) % len(l.rts)
	i := l.next
	if i == 0 {
		serve(l.rts[0], c)
		return
	}
	rt := l.rts[i]
	c.f.rt.fds.Forget(c.f.fd) // no task waits on it yet: it only leaves the poller
	c.f.rt = rt               // nothing of loop 0's touches c from now on
	err := rt.Post(func() {
		rt.fds.Adopt(c.f.fd) // its queues made here, not on its task's stack
		serve(rt, c)
	})
	if err != nil {
		unix.Close(c.f.fd) // that loop has stopped
	}
}
