// Package lwtask is the entry point of lwtask, a library of lightweight
// cooperative tasks after the essay "Lightweight Tasks using Generators and
// Yield-From": many tasks on one goroutine, run round robin, each a step
// function the scheduler calls to run it to its next suspension point.
//
// A Runtime ties the parts together: the scheduler (package scheduler) and
// the wait for the outside world. Tasks are written either as raw step
// functions or, more plainly, in generator style:
//
//	rt, _ := lwtask.New()
//	defer rt.Close()
//	fork := utensil.New("fork 0")
//	for _, name := range []string{"Plato", "Socrates"} {
//		rt.Go(name, func(t *lwtask.Task) {
//			fork.Acquire(t)
//			fmt.Println(name, "eating spam")
//			t.Yield()
//			fork.Release(t)
//		})
//	}
//	err := rt.Run()
//
// The packages underneath each have one job: task (tasks and the queues
// they wait in), scheduler (the ready list and run loop) and utensil (a
// resource with a FIFO wait queue).
package lwtask

import (
	"errors"

	"github.com/lwtask/lwtask/fdqueue"
	"github.com/lwtask/lwtask/scheduler"
	"github.com/lwtask/lwtask/task"
)

// Names from the packages underneath, so that most programs import only
// lwtask.
type (
	// Task is a lightweight task; see package task.
	Task = task.Task
	// Step is a raw step function.
	Step = task.Step
	// Queue is a FIFO of blocked tasks.
	Queue = task.Queue
	// PanicError reports a panic in a task.
	PanicError = task.PanicError
	// DeadlockError reports tasks blocked forever.
	DeadlockError = scheduler.DeadlockError
)

// What a raw step function returns.
const (
	Yield  = task.Yield
	Finish = task.Finish
)

// Errors that callers test for with errors.Is.
var (
	// ErrTimeout: a wait's deadline passed.
	ErrTimeout = task.ErrTimeout
	// ErrClosed: the descriptor was closed, before or during the call.
	ErrClosed = fdqueue.ErrClosed
	// ErrFdTooLarge: the select backend cannot wait on a descriptor at or
	// above FD_SETSIZE (1024).
	ErrFdTooLarge = fdqueue.ErrFdTooLarge
	// ErrLineTooLong: a line exceeded the reader's maximum length.
	ErrLineTooLong = errors.New("lwtask: line too long")
)

// Runtime is a scheduler together with its event source, the descriptor
// queues. Its methods, and those of the embedded *scheduler.Scheduler,
// belong to the goroutine that calls Run, except Post and Stop.
type Runtime struct {
	*scheduler.Scheduler
	fds     *fdqueue.FdQueues
	buffers [][]byte // free read buffers, lent to connections while they read
}

// An Option configures a Runtime.
type Option func(*config)

type config struct {
	poller string
}

// WithPoller chooses the poller backend by name: "epoll" (Linux), "kqueue"
// (macOS and the BSDs), "poll" or "select". The default is the best the
// system has.
func WithPoller(name string) Option { return func(c *config) { c.poller = name } }

// New returns a Runtime with no tasks.
func New(opts ...Option) (*Runtime, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	s := scheduler.New()
	fds, err := fdqueue.New(s, c.poller)
	if err != nil {
		return nil, err
	}
	s.SetEventSource(fds)
	return &Runtime{Scheduler: s, fds: fds}, nil
}

// Poller returns the name of the poller backend in use.
func (r *Runtime) Poller() string { return r.fds.Backend() }

// FdQueues returns the runtime's descriptor queues, for tasks that wait on
// descriptors they manage themselves.
func (r *Runtime) FdQueues() *fdqueue.FdQueues { return r.fds }

// Close releases the poller. Call it once Run has returned; descriptors
// opened through the runtime are closed by their own Close.
func (r *Runtime) Close() error { return r.fds.Close() }
