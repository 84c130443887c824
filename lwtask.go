// Package lwtask is the entry point of lwtask, a library of lightweight
// cooperative tasks after the essay "Lightweight Tasks using Generators and
// Yield-From": many tasks on one goroutine, run round robin, each a step
// function the scheduler calls to run it to its next suspension point.
//
// A Runtime ties the parts together: a scheduler (package scheduler) and an
// event loop over descriptors (package fdqueue). Tasks are written either as
// raw step functions or, more plainly, in generator style:
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
// # Tasks take turns
//
// A task runs until it suspends: it yields, or waits for something. An
// operation that could have waited but did not (a read that found data, a
// write the socket took) counts against the task's turn, and once a turn's
// task.Budget is spent the next such operation yields first, so a task whose
// input never runs dry still lets the others run.
//
// # Misuse
//
// Every operation that takes a task must be called with the running task
// of the same Runtime. Any other call panics at once, naming both tasks: a
// task handle passed to the wrong code is a bug, and it is found the first
// time, not only on the rare call that happens to wait.
//
// The packages underneath each have one job: task (tasks and the queues
// they wait in), scheduler (the ready list and run loop), fdqueue (tasks
// parked on descriptors) and utensil (a resource with a FIFO wait queue).
package lwtask

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/lwtask/lwtask/fdqueue"
	"github.com/lwtask/lwtask/internal/core"
	"github.com/lwtask/lwtask/scheduler"
	"github.com/lwtask/lwtask/task"
	"github.com/lwtask/lwtask/timeline"
)

// Names from the packages underneath, so that most programs import only
// lwtask. Their documentation is in package task and package scheduler.
type (
	// Task is a lightweight task: task.Task.
	Task = task.Task
	// Step is a raw step function: task.Step.
	Step = task.Step
	// Status is what a raw step returns: task.Status.
	Status = task.Status
	// Queue is a labelled FIFO of waiting tasks: task.Queue.
	Queue = task.Queue
	// TaskInfo is a snapshot of a task: task.Info.
	TaskInfo = task.Info
	// PanicError reports a panic in a task: task.PanicError.
	PanicError = task.PanicError
	// DeadlockError reports tasks blocked forever: scheduler.DeadlockError.
	DeadlockError = scheduler.DeadlockError
	// Metrics are a Runtime's counters: scheduler.Metrics.
	Metrics = scheduler.Metrics
)

// What a raw step function returns.
const (
	Yield  = task.Yield
	Finish = task.Finish
)

// Errors that callers test for with errors.Is. Errors of descriptors come
// wrapped once, in an *os.PathError for files and pipes or a *net.OpError
// for sockets, naming the operation and the file; io.EOF comes bare.
var (
	// ErrTimeout: a wait's deadline passed. It is os.ErrDeadlineExceeded,
	// and errors.As finds a net.Error whose Timeout() is true.
	ErrTimeout = task.ErrTimeout
	// ErrClosed: the descriptor was closed, before or during the call. It
	// matches net.ErrClosed and os.ErrClosed.
	ErrClosed = fdqueue.ErrClosed
	// ErrKilled: the task is being ended (killed, or its runtime is
	// stopping), and may not wait any more. Its deferred calls get it from
	// any operation that would have to wait.
	ErrKilled = task.ErrKilled
	// ErrFdTooLarge: the select backend cannot wait on a descriptor at or
	// above FD_SETSIZE (1024).
	ErrFdTooLarge = fdqueue.ErrFdTooLarge
	// ErrLineTooLong: a line exceeded the reader's maximum length.
	ErrLineTooLong = errors.New("line too long")
	// ErrUnsent: Close could not send a Conn's buffered output without
	// waiting, and dropped it; the error says how many bytes.
	ErrUnsent = errors.New("buffered output dropped unsent")
	// ErrAgain is returned by the Try forms of operations, for raw steps,
	// when the operation could not complete without suspending the task:
	// the task has been parked until it can, or its turn is spent. The step
	// returns Yield and tries the operation again at its next step. It is
	// task.ErrAgain.
	ErrAgain = task.ErrAgain
)

// Runtime is a scheduler together with its event loop, the descriptor
// queues. Its methods, and those of the Files, Conns and Listeners it makes,
// belong to the goroutine that calls Run, except Post and Stop, which any
// goroutine may call.
type Runtime struct {
	s       *scheduler.Scheduler
	fds     *fdqueue.FdQueues
	buffers [][]byte // free read buffers, lent to connections while they read
}

// An Option configures a Runtime.
type Option func(*config)

type config struct {
	poller   string
	edge     bool
	recorder timeline.Sink
	virtual  bool
}

// WithPoller chooses the poller backend by name: "epoll" (Linux), "kqueue"
// (macOS and the BSDs), "poll" or "select". The default is the best the
// system has.
func WithPoller(name string) Option { return func(c *config) { c.poller = name } }

// WithEdgeTriggered makes the poller edge-triggered where it can be (epoll,
// kqueue): a ready descriptor is reported once, not at every wait. File,
// Conn and Listener wait only after they have found a descriptor drained,
// which edge triggering needs; see fdqueue.EdgeTriggered for the rule that
// tasks waiting on descriptors of their own must keep.
func WithEdgeTriggered() Option { return func(c *config) { c.edge = true } }

// WithRecorder makes the Runtime hand every event of its tasks and its
// loop to k, such as a *timeline.Recorder, for a timeline of what the tasks
// did: when each ran, what it waited for and who woke it, the poller's
// waits. See package timeline. Without it nothing is recorded, at no cost
// to the run loop.
func WithRecorder(k timeline.Sink) Option { return func(c *config) { c.recorder = k } }

// WithVirtualClock gives the Runtime a virtual clock, like trio's
// MockClock or tokio's paused time: timers, deadlines and sleeps run on a
// time that stands still while tasks run and jumps to the next deadline
// whenever every task waits and no descriptor is ready, so that a test of
// timeouts takes microseconds and always goes the same way. Take deadlines
// from the Runtime's clock (Now, or t.Now() in a task), not time.Now. See
// scheduler.WithVirtualClock for the fine print.
func WithVirtualClock() Option { return func(c *config) { c.virtual = true } }

// New returns a Runtime with no tasks.
func New(opts ...Option) (*Runtime, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	var fdOpts []fdqueue.Option
	if c.edge {
		fdOpts = append(fdOpts, fdqueue.EdgeTriggered())
	}
	fds, err := fdqueue.New(c.poller, fdOpts...)
	if err != nil {
		return nil, err
	}
	sopts := []scheduler.Option{scheduler.WithEventSource(fds)}
	if c.recorder != nil {
		sopts = append(sopts, scheduler.WithRecorder(c.recorder))
	}
	if c.virtual {
		sopts = append(sopts, scheduler.WithVirtualClock())
	}
	return &Runtime{s: scheduler.New(sopts...), fds: fds}, nil
}

// Go starts a generator-style task running body, at the tail of the ready
// list, and returns it.
func (r *Runtime) Go(name string, body func(t *Task)) *Task { return r.s.Go(name, body) }

// GoStep starts a task running the raw step function step.
func (r *Runtime) GoStep(name string, step Step) *Task { return r.s.GoStep(name, step) }

// Schedule adds t, made with task.New or task.NewStep, to the tail of the
// ready list: the essay's schedule. See scheduler.Scheduler.Schedule.
func (r *Runtime) Schedule(t *Task) { r.s.Schedule(t) }

// Unschedule takes t out of the ready list, leaving it idle: the essay's
// unschedule.
func (r *Runtime) Unschedule(t *Task) { r.s.Unschedule(t) }

// Run runs the tasks until none is ready and none can become ready: none
// waits for a descriptor, a timer, a Hold or posted work. It returns nil
// then, a *DeadlockError if tasks are blocked on queues nothing can
// unblock, a *PanicError if a task panicked (unless SetPanicHandler says
// otherwise), or the poller's error. After Stop it returns nil. When Run
// returns, every task has ended and run its deferred calls.
func (r *Runtime) Run() error { return r.s.Run() }

// RunContext is Run, stopped when ctx is done.
func (r *Runtime) RunContext(ctx context.Context) error { return r.s.RunContext(ctx) }

// Stop makes Run end every task and return nil before the next step. Any
// goroutine may call it.
func (r *Runtime) Stop() { r.s.Stop() }

// Post arranges for f to run on the Runtime's goroutine between steps: the
// way for other goroutines to hand it work or start tasks. Any goroutine
// may call it. Posted functions run in order, each once, even if one
// before panics. It returns scheduler.ErrStopped after Stop.
func (r *Runtime) Post(f func()) error { return r.s.Post(f) }

// Hold tells Run that a Post is on its way from another goroutine: until
// release is called, Run waits for it instead of returning or reporting a
// deadlock. Call both on the Runtime's goroutine.
func (r *Runtime) Hold() (release func()) { return r.s.Hold() }

// Kill ends t wherever it is; see scheduler.Scheduler.Kill. Its deferred
// calls run, and any wait in them fails with ErrKilled.
func (r *Runtime) Kill(t *Task) { r.s.Kill(t) }

// Current returns the running task, or nil between steps.
func (r *Runtime) Current() *Task { return r.s.Current() }

// Owns reports whether t is a task of r.
func (r *Runtime) Owns(t *Task) bool { return r.s.Owns(t) }

// Len returns the number of live tasks.
func (r *Runtime) Len() int { return r.s.Len() }

// Tasks returns a snapshot of the live tasks, ordered by ID.
func (r *Runtime) Tasks() []TaskInfo { return r.s.Tasks() }

// DumpTasks writes the task table to w: ID, name, state, what each
// blocked task waits for and how long it has. Call it on the Runtime's
// goroutine (a task, a posted function); from any other, call Dump.
func (r *Runtime) DumpTasks(w io.Writer) error { return r.s.DumpTasks(w) }

// Dump is DumpTasks for any goroutine but the Runtime's own: a signal
// handler's, say. It has the Runtime write the table between two steps,
// and waits for it, for up to a second: if the loop takes no turn in that
// time (a task that never yields, or Run not running), it returns an error
// saying so. Called from the Runtime's goroutine it would wait for itself;
// call DumpTasks there.
func (r *Runtime) Dump(w io.Writer) error { return r.s.Dump(w, time.Second) }

// Metrics returns the Runtime's counters: steps, switches, wake-ups, polls
// and the events they found, tasks alive, the longest ready list, time
// idle and yields forced by the budget; see scheduler.Metrics. They are
// as of one of the last turns, and any goroutine may ask.
func (r *Runtime) Metrics() Metrics { return r.s.Metrics() }

// MetricsVar returns the Runtime's metrics as an expvar.Var, to publish
// (expvar.Publish("lwtask", rt.MetricsVar())) at /debug/vars: its String
// is the current Metrics as JSON. (The library does not import expvar,
// whose import alone registers an HTTP handler.)
func (r *Runtime) MetricsVar() interface{ String() string } { return metricsVar{r} }

type metricsVar struct{ r *Runtime }

func (v metricsVar) String() string { return v.r.Metrics().String() }

// Now returns the time on the Runtime's clock, which deadlines are on: the
// wall clock, or the virtual one (WithVirtualClock). Any goroutine may
// call it.
func (r *Runtime) Now() time.Time { return r.s.Now() }

// SetPanicHandler sets what a task's panic does. By default (nil) it ends
// Run, which returns the *PanicError; with a handler, only the task ends,
// and h is told. See scheduler.LogPanics.
func (r *Runtime) SetPanicHandler(h func(*PanicError)) { r.s.SetPanicHandler(h) }

// SetRecorder is WithRecorder for a Runtime already made, such as a loop
// of a Loops; call it before Run.
func (r *Runtime) SetRecorder(k timeline.Sink) { r.s.SetRecorder(k) }

// Poller returns the name of the poller backend in use.
func (r *Runtime) Poller() string { return r.fds.Backend() }

// FdQueues returns the runtime's descriptor queues, for tasks that wait on
// descriptors they manage themselves.
func (r *Runtime) FdQueues() *fdqueue.FdQueues { return r.fds }

// Close releases the poller. Call it once Run has returned; descriptors
// opened through the runtime are closed by their own Close.
func (r *Runtime) Close() error { return r.fds.Close() }

// enter begins an operation of t on a descriptor of r: it panics unless t
// is the running task of r, counts the operation against t's turn,
// yielding first once the turn is spent, and returns t's cancellation, if
// it has been cancelled, which the operation returns instead of going on.
func (r *Runtime) enter(t *Task, op string) error {
	return r.own(t, op).Checkpoint(op)
}

// tryEnter is enter for a raw step: it returns ErrAgain, instead of
// yielding, when t's turn is spent.
func (r *Runtime) tryEnter(t *Task, op string) error {
	return r.own(t, op).CheckpointStep(op)
}

func (r *Runtime) own(t *Task, op string) *core.Task {
	c := (*core.Task)(t)
	if c.Sched() != nil && !r.s.Owns(t) {
		panic(&core.MisuseError{Op: op, Task: t.String(), Detail: "it belongs to another Runtime"})
	}
	return c
}
