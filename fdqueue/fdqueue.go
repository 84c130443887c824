// Package fdqueue parks tasks until descriptors are ready: the essay's
// FdQueues, a read queue and a write queue per descriptor, and its
// wait_for_event, which waits on the descriptors that have parked tasks and
// unblocks the head of each ready queue.
//
// An FdQueues is a scheduler's event source (scheduler.WithEventSource):
// when no task is ready, the scheduler waits in it for descriptors or the
// next timer, and between turns it polls it without waiting.
//
// The poller's registrations follow the queues lazily: a descriptor is
// watched for a direction once a task parks on it (the change is made just
// before the poller next waits, on the event loop's stack), and stays
// watched while its queue is empty until an event shows that nobody waits
// any more. A task that reads, parks, reads again thus costs no
// registration calls at all.
//
// Errors are returned bare (ErrClosed, task.ErrTimeout, ErrFdTooLarge, a
// syscall.Errno), for the caller to wrap once with the operation and the
// file it concerns, as package lwtask does.
package fdqueue

import (
	"errors"
	"net"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/lwtask/lwtask/fdqueue/poller"
	"github.com/lwtask/lwtask/internal/core"
	"github.com/lwtask/lwtask/task"
	"golang.org/x/sys/unix"
)

// ErrClosed is the error a task parked on a descriptor gets when the
// descriptor is closed, and that operations on a closed descriptor return.
// It matches both net.ErrClosed and os.ErrClosed with errors.Is.
var ErrClosed error = closedError{}

type closedError struct{}

func (closedError) Error() string { return "use of closed descriptor" }

func (closedError) Is(target error) bool { return target == net.ErrClosed || target == os.ErrClosed }

// ErrFdTooLarge is returned when the select backend is asked to wait on a
// descriptor at or above FD_SETSIZE.
var ErrFdTooLarge = poller.ErrFdTooLarge

// FdQueues holds the read and write queues of every descriptor that tasks
// wait on.
type FdQueues struct {
	sched   *core.Sched // the scheduler whose event source q is: see Serve
	poller  *poller.Poller
	fds     []*fdQueue // indexed by descriptor
	events  []poller.Event
	changed []int     // descriptors whose registrations sync is to bring up to date
	ready   int       // descriptors the last Wait found ready
	parked  *int      // tasks in all the queues, kept by the queues' tally: the scheduler's count (Serve), or own
	yield   time.Time // when Wait last let the Go scheduler run
	edge    bool      // registrations are edge-triggered: see EdgeTriggered
}

// yieldInterval is how long the scheduler's goroutine may run between trips
// through the Go scheduler. Tasks switch on coroutines, which the Go
// scheduler does not count as scheduling, so an event loop that never parks
// looks to the runtime's monitor like one goroutine hogging the processor:
// after 10 ms it is preempted with signals, and its processor is taken from
// it at its next system call that goes through the scheduler, with another
// thread started to take over. With GOMAXPROCS=1 that churn of threads cost
// a busy spam server a tenth of its throughput (docs/benchmarks.md). The
// reads and writes on sockets are raw calls now, which the monitor does not
// see, but the poller's wait is not (it may block), so the yield stays.
const yieldInterval = time.Millisecond

// fdQueue is one descriptor's pair of queues.
type fdQueue struct {
	readq, writeq task.Queue
	drained       bool          // a read found fd empty, and the poller has not said otherwise since: see Drained
	hup           bool          // fd has hung up: a read returns EOF or an error at once, drained or not
	changed       bool          // in FdQueues.changed: its registration is to be brought up to date (see sync)
	pending       poller.Events // edges reported while nobody waited, for the next wait (edge-triggered only)
	refused       error         // why the poller would not watch fd, if it would not
}

// An Option configures FdQueues.
type Option func(*FdQueues)

// EdgeTriggered makes the poller report a descriptor once each time it
// becomes ready, rather than at every wait while it is (epoll's EPOLLET,
// kqueue's EV_CLEAR; the poll and select backends have no such mode and
// stay level-triggered). A ready descriptor then costs no more wake-ups
// while nobody waits, and the lazy registrations need never be dropped.
//
// The price is a rule: a task may wait for a descriptor only once it has
// found it drained (a read got EAGAIN, or less than it asked for; a write
// got EAGAIN), or it may wait for an edge that already passed. File, Conn
// and Listener keep the rule; tasks that wait with WaitReadable and the
// rest themselves must keep it too, and tell Drained. An edge that comes
// while nobody waits is kept for the next wait, which then returns at once.
func EdgeTriggered() Option { return func(q *FdQueues) { q.edge = q.poller.CanEdge() } }

// New returns the descriptor queues of one scheduler, waiting with the
// named poller backend ("" for the best this system has: see
// poller.Names).
func New(backend string, opts ...Option) (*FdQueues, error) {
	p, err := poller.New(backend)
	if err != nil {
		return nil, err
	}
	q := &FdQueues{poller: p, events: make([]poller.Event, 64), parked: new(int)}
	for _, o := range opts {
		o(q)
	}
	return q, nil
}

// Edge reports whether registrations are edge-triggered.
func (q *FdQueues) Edge() bool { return q.edge }

// serve tells q the scheduler it is the event source of, so that a task of
// any other is refused (q wakes its tasks on that scheduler's goroutine
// only), and so that q counts its parked tasks where that scheduler's run
// loop looks between turns. scheduler.New has it called, through
// core.Attach, before any task waits.
func (q *FdQueues) serve(s *core.Sched) {
	q.sched = s
	q.parked = s.Parked()
}

func init() {
	core.RegisterSource(func(source any, s *core.Sched) bool {
		q, ok := source.(*FdQueues)
		if ok {
			q.serve(s)
		}
		return ok
	})
}

// Backend returns the name of the poller backend in use.
func (q *FdQueues) Backend() string { return q.poller.Name() }

// Close releases the poller. Tasks still parked are not woken: end them
// first (the scheduler's Run does so before it returns).
func (q *FdQueues) Close() error { return q.poller.Close() }

// Parked returns the number of tasks parked on descriptors.
func (q *FdQueues) Parked() int { return *q.parked }

// Ready returns how many descriptors the last Wait found ready.
func (q *FdQueues) Ready() int { return q.ready }

// Wakeup makes a Wait in progress return; any goroutine may call it.
func (q *FdQueues) Wakeup() { q.poller.Wakeup() }

// WaitReadable parks the generator-style task t until fd is readable (or
// at EOF, or in error) and returns nil, or why it was woken otherwise:
// ErrClosed, task.ErrTimeout past the deadline (the zero time is none),
// task.ErrKilled. A descriptor that the poller refuses (ErrFdTooLarge)
// gives its error: the wait that found out, when the event loop next
// polled, and every later one at once.
func (q *FdQueues) WaitReadable(t *task.Task, fd int, deadline time.Time) error {
	return q.wait(t, "WaitReadable", fd, poller.Read, deadline, true)
}

// WaitWritable parks the generator-style task t until fd is writable.
func (q *FdQueues) WaitWritable(t *task.Task, fd int, deadline time.Time) error {
	return q.wait(t, "WaitWritable", fd, poller.Write, deadline, true)
}

// BlockForReading is WaitReadable for a raw step: it parks t, the running
// task, until fd is readable, after which the step returns task.Yield, as
// the essay's block_for_reading is followed by yield. The step is called
// again once t is woken, and finds why in t.WaitErr(). An error means t was
// not parked.
func (q *FdQueues) BlockForReading(t *task.Task, fd int, deadline time.Time) error {
	return q.wait(t, "BlockForReading", fd, poller.Read, deadline, false)
}

// BlockForWriting is BlockForReading for writing.
func (q *FdQueues) BlockForWriting(t *task.Task, fd int, deadline time.Time) error {
	return q.wait(t, "BlockForWriting", fd, poller.Write, deadline, false)
}

// wait parks t on fd's queue for dir, having made sure the poller watches
// fd for dir: then parks it (generator style) or leaves it to its step to
// yield.
func (q *FdQueues) wait(t *task.Task, op string, fd int, dir poller.Events, deadline time.Time, park bool) error {
	c := (*core.Task)(t)
	var err error
	if park {
		err = c.BeginPark(op)
	} else {
		err = c.BeginWait(op)
	}
	if err != nil {
		return err
	}
	if q.sched != nil && q.sched != c.Sched() {
		foreignTask(op, t)
	}
	queue, err := q.watch(fd, dir)
	if err != nil {
		if errors.Is(err, unix.EPERM) {
			// epoll refuses regular files, which are always ready: the
			// caller's next read or write goes through.
			return nil
		}
		return err
	}
	if q.takeEdge(fd, dir) {
		return nil // it became ready while nobody waited: try again now
	}
	c.Enqueue(queue, nil)
	if park {
		_, err = c.Park(c.Deadline(deadline))
		return err
	}
	c.Suspend(c.Deadline(deadline))
	return nil
}

// foreignTask panics for a wait of a task of another scheduler. It is out
// of line to keep wait's frame, on the stack of every task parked on a
// descriptor, small.
//
//go:noinline
func foreignTask(op string, t *task.Task) {
	panic(&core.MisuseError{Op: op, Task: t.String(), Detail: "it belongs to another Runtime"})
}

// Drained notes that a read of fd found it empty: it failed with EAGAIN, or
// got less than it asked for, which on a stream means the kernel had no
// more. Until the poller next reports fd readable, MayRead says no, and a
// reader waits for readiness instead of making a read that would find
// nothing: the essay's own order, block_for_reading then recv, and one read
// per request instead of two. Level-triggered pollers make waiting safe
// even if data came in between: the next poll reports it at once.
func (q *FdQueues) Drained(fd int) {
	if fd >= 0 {
		fq := q.queues(fd)
		fq.drained = true
		fq.pending &^= poller.Read // an edge before the drain is spent
	}
}

// takeEdge reports, and forgets, an edge of fd in dir that came while
// nobody waited (edge-triggered only).
func (q *FdQueues) takeEdge(fd int, dir poller.Events) bool {
	if !q.edge || fd < 0 || fd >= len(q.fds) || q.fds[fd] == nil || q.fds[fd].pending&dir == 0 {
		return false
	}
	q.fds[fd].pending &^= dir
	return true
}

// MayRead reports whether a read of fd may find data: true unless a read
// found it drained (Drained) and the poller has not reported it readable
// since.
func (q *FdQueues) MayRead(fd int) bool {
	if fd < 0 || fd >= len(q.fds) || q.fds[fd] == nil {
		return true
	}
	fq := q.fds[fd]
	return !fq.drained || fq.hup
}

// ReadableCase returns a select case (task.Case) on fd being readable.
// With ready nil, it is ready once the poller reports fd readable; with a
// ready function, that function says whether the case holds without
// waiting, first and each time fd is reported readable (task.WaitCase): a
// buffered reader's "a whole line is here", say. If the poller refuses fd
// (ErrFdTooLarge), the case is ready at once, and the read that follows
// meets the error.
func (q *FdQueues) ReadableCase(fd int, ready func(*task.Task) bool) task.Case {
	return q.fdCase(fd, poller.Read, ready)
}

// WritableCase is ReadableCase for writing.
func (q *FdQueues) WritableCase(fd int, ready func(*task.Task) bool) task.Case {
	return q.fdCase(fd, poller.Write, ready)
}

func (q *FdQueues) fdCase(fd int, dir poller.Events, ready func(*task.Task) bool) task.Case {
	queue, err := q.watch(fd, dir)
	switch {
	case err != nil || q.takeEdge(fd, dir):
		return task.HandOffCase(&unwatchable, always) // ready at once
	case ready == nil:
		// Woken from the queue means the poller said so: done.
		return task.HandOffCase((*task.Queue)(queue), never)
	}
	return task.WaitCase((*task.Queue)(queue), ready)
}

var unwatchable task.Queue // never waited in: its case is ready at once

func always(*task.Task) bool { return true }
func never(*task.Task) bool  { return false }

// watch notes that a task is about to wait on fd for dir, and returns the
// queue to park in: the essay's get_fd_queues. The poller itself is told
// before its next wait (sync), on the event loop's stack: registering here,
// deep in the waiting task's, took frames (a system call, a map insert)
// that made every connection's coroutine outgrow its first 2 KB. A
// descriptor the poller has refused gives that refusal at once.
func (q *FdQueues) watch(fd int, dir poller.Events) (*core.Queue, error) {
	if fd < 0 {
		return nil, unix.EBADF
	}
	fq := q.queues(fd)
	if fq.refused != nil {
		return nil, fq.refused
	}
	need := dir
	if q.edge {
		need |= poller.Edge
	}
	if q.poller.Watched(fd)&need != need && !fq.changed {
		fq.changed = true
		q.changed = append(q.changed, fd)
	}
	if dir == poller.Read {
		return fq.read(), nil
	}
	return fq.write(), nil
}

// sync brings the poller's registrations up to date before it waits: each
// descriptor noted by watch is watched in every direction a task waits in,
// besides what it was watched for already (registrations are dropped
// lazily, by dispatch). A registration the poller refuses wakes the
// descriptor's tasks, and is remembered: with nil for a regular file, which
// epoll refuses and which is always ready, and with the error otherwise.
//
// It reports whether it woke any task.
func (q *FdQueues) sync() (woke bool) {
	for _, fd := range q.changed {
		fq := q.lookup(fd)
		if fq == nil || !fq.changed {
			continue // forgotten since, maybe reused
		}
		fq.changed = false
		want := q.poller.Watched(fd)
		if fq.readq.Len() > 0 {
			want |= poller.Read
		}
		if fq.writeq.Len() > 0 {
			want |= poller.Write
		}
		if want != 0 && q.edge {
			want |= poller.Edge
		}
		if err := q.setWatch(fd, want); err != nil {
			fq.refused = err
			if errors.Is(err, unix.EPERM) {
				err = nil
			}
			if fq.readq.WakeAll(err)+fq.writeq.WakeAll(err) > 0 {
				woke = true
			}
		}
	}
	q.changed = q.changed[:0]
	return woke
}

// Adopt makes fd's queues now, ahead of its first wait, which then
// allocates nothing. Waits run deep in a task's stack; making the queues
// there (an allocation, and strings for their labels) is what made every
// connection's coroutine outgrow its first 2 KB of stack.
func (q *FdQueues) Adopt(fd int) {
	if fd >= 0 {
		q.queues(fd)
	}
}

// queues returns fd's queues, making them at first use; fd is not negative.
func (q *FdQueues) queues(fd int) *fdQueue {
	if fd >= len(q.fds) {
		q.fds = append(q.fds, make([]*fdQueue, fd+1-len(q.fds))...)
	}
	fq := q.fds[fd]
	if fq == nil {
		name := "fd " + strconv.Itoa(fd)
		fq = &fdQueue{readq: task.Queue{Label: name + " read"}, writeq: task.Queue{Label: name + " write"}}
		for _, cq := range [...]*core.Queue{fq.read(), fq.write()} {
			cq.Tally(q.parked)
			cq.SetKind(core.IOQueue)
		}
		q.fds[fd] = fq
	}
	return fq
}

func (fq *fdQueue) read() *core.Queue  { return (*core.Queue)(&fq.readq) }
func (fq *fdQueue) write() *core.Queue { return (*core.Queue)(&fq.writeq) }

// setWatch brings the poller's interest in fd to want.
func (q *FdQueues) setWatch(fd int, want poller.Events) error {
	switch had := q.poller.Watched(fd); {
	case want == had:
		return nil
	case had == 0:
		return q.poller.Register(fd, want)
	case want == 0:
		return q.poller.Unregister(fd)
	default:
		return q.poller.Modify(fd, want)
	}
}

func (q *FdQueues) lookup(fd int) *fdQueue {
	if fd < 0 || fd >= len(q.fds) {
		return nil
	}
	return q.fds[fd]
}

// CloseFd forgets fd and closes it. Every task parked on it is woken with
// ErrClosed (the essay's close_fd strands them forever), and the poller
// stops watching fd before it is closed, so that a new descriptor given the
// same number never sees the old one's events.
func (q *FdQueues) CloseFd(fd int) error {
	q.Forget(fd)
	return unix.Close(fd)
}

// Forget is CloseFd without the close, for a descriptor that is closed
// elsewhere: its parked tasks get ErrClosed and the poller lets it go.
func (q *FdQueues) Forget(fd int) {
	fq := q.lookup(fd)
	if fq == nil {
		return
	}
	fq.readq.WakeAll(ErrClosed)
	fq.writeq.WakeAll(ErrClosed)
	if q.poller.Watched(fd) != 0 {
		q.poller.Unregister(fd) // the descriptor is on its way out; nothing to do on failure
	}
	q.fds[fd] = nil
}

// Wait is the essay's wait_for_event: it waits up to timeout (negative: no
// limit; zero: just poll) for the descriptors tasks are parked on, and for
// each one ready unblocks the head of its read queue, its write queue or
// both.
//
// Why no sequence numbers on registrations, which the Go runtime's
// netpoller tags its events with against a descriptor closed and its
// number reused: every event of one Wait is dispatched before any task
// runs, and a descriptor is only closed by a task (CloseFd), which
// unregisters it first. No event can outlive the descriptor it was for.
func (q *FdQueues) Wait(timeout time.Duration) error {
	if now := time.Now(); now.Sub(q.yield) >= yieldInterval {
		q.yield = now
		runtime.Gosched()
	}
	if q.sync() {
		timeout = 0 // tasks were woken: poll, but do not keep them waiting
	}
	n, err := q.poller.Wait(q.events, timeout)
	q.ready = n
	if err != nil {
		return err
	}
	for _, ev := range q.events[:n] {
		q.dispatch(ev)
	}
	if n == len(q.events) {
		// Busy: let the next Wait report more at a time.
		q.events = make([]poller.Event, 2*n)
	}
	return nil
}

// dispatch unblocks the tasks waiting for ev. A direction nobody waits for
// any more (the task timed out, was killed, or chose another case of a
// select) is no longer watched.
func (q *FdQueues) dispatch(ev poller.Event) {
	fq := q.lookup(ev.Fd)
	if fq == nil {
		q.poller.Unregister(ev.Fd) // a stray registration: drop it
		return
	}
	if ev.Events&poller.Hup != 0 {
		// The end of input (or an error) is reported once when edge
		// triggered, even when it came with the last of the data, which a
		// short read then takes: the reader must not take that read for a
		// drain and wait for an edge that has passed.
		fq.hup = true
	}
	want := q.poller.Watched(ev.Fd)
	if q.edge {
		q.dispatchEdge(fq, ev.Events)
		return
	}
	if ev.Events&poller.Read != 0 {
		fq.drained = false
		if fq.readq.Unblock() == nil {
			want &^= poller.Read
		}
	}
	if ev.Events&poller.Write != 0 && fq.writeq.Unblock() == nil {
		want &^= poller.Write
	}
	q.setWatch(ev.Fd, want) // on failure the next event retries
}

// dispatchEdge is dispatch for edge-triggered registrations. An edge is
// reported once, so it wakes every task waiting in the direction, which try
// again in turn (one finds what came; the rest find the descriptor drained
// and wait again), and an edge nobody waits for is kept for the next wait.
// Registrations stay: an edge costs nothing when nobody waits.
func (q *FdQueues) dispatchEdge(fq *fdQueue, ev poller.Events) {
	if ev&poller.Read != 0 {
		fq.drained = false
		if fq.readq.WakeAll(nil) == 0 {
			fq.pending |= poller.Read
		}
	}
	if ev&poller.Write != 0 && fq.writeq.WakeAll(nil) == 0 {
		fq.pending |= poller.Write
	}
}
