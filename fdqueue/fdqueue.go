// Package fdqueue parks tasks until descriptors are ready: the essay's
// FdQueues, a read queue and a write queue per descriptor, and its
// wait_for_event, which waits on the descriptors that have parked tasks and
// unblocks the head of each ready queue.
//
// An FdQueues is a scheduler's event source (scheduler.EventSource): when no
// task is ready, the scheduler waits in it for descriptors or the next timer,
// and after every round of the ready list it polls it without waiting.
//
// The poller's registrations follow the queues lazily: a descriptor is
// watched for a direction when a task parks on it, and stays watched while
// its queue is empty until an event shows that nobody waits any more. A task
// that reads, parks, reads again thus costs no registration calls at all.
package fdqueue

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"time"

	"github.com/lwtask/lwtask/fdqueue/poller"
	"github.com/lwtask/lwtask/task"
	"golang.org/x/sys/unix"
)

// ErrClosed is the error a task parked on a descriptor gets when the
// descriptor is closed, and that operations on a closed descriptor return.
var ErrClosed = errors.New("fdqueue: descriptor closed")

// ErrFdTooLarge is returned when the select backend is asked to wait on a
// descriptor at or above FD_SETSIZE.
var ErrFdTooLarge = poller.ErrFdTooLarge

// FdQueues holds the read and write queues of every descriptor that tasks
// wait on.
type FdQueues struct {
	sched  task.Scheduler
	poller poller.Poller
	fds    []*fdQueue // indexed by descriptor
	events []poller.Event
	parked int       // tasks in all the queues, kept by task.Queue.Tally
	yield  time.Time // when Wait last let the Go scheduler run
}

// yieldInterval is how long the scheduler's goroutine may run between trips
// through the Go scheduler. Tasks switch on coroutines, which the Go
// scheduler does not count as scheduling, so an event loop that never parks
// looks to the runtime's monitor like one goroutine hogging the processor:
// after 10 ms it is preempted with signals, and its processor is taken from
// it in every system call, with another thread started to take over. With
// GOMAXPROCS=1 that churn of threads cost a busy spam server a tenth of its
// throughput (docs/benchmarks.md).
const yieldInterval = time.Millisecond

// fdQueue is one descriptor's pair of queues.
type fdQueue struct {
	readq, writeq task.Queue
	watched       poller.Events // what the poller is told to watch for
}

// New returns queues whose tasks run on s, waiting with the named poller
// backend ("" for the best this system has: see poller.Names).
func New(s task.Scheduler, backend string) (*FdQueues, error) {
	p, err := poller.New(backend)
	if err != nil {
		return nil, err
	}
	return &FdQueues{sched: s, poller: p, events: make([]poller.Event, 64)}, nil
}

// Backend returns the name of the poller backend in use.
func (q *FdQueues) Backend() string { return q.poller.Name() }

// Close releases the poller. Tasks still parked are not woken: end them
// first (scheduler.Run does so before it returns).
func (q *FdQueues) Close() error { return q.poller.Close() }

// Parked returns the number of tasks parked on descriptors.
func (q *FdQueues) Parked() int { return q.parked }

// Wakeup makes a Wait in progress return; any goroutine may call it.
func (q *FdQueues) Wakeup() { q.poller.Wakeup() }

// BlockForReading parks the current task until fd is readable (or at EOF,
// or in error). As in the essay, the task's step should yield right after;
// generator-style tasks call WaitReadable instead. A zero deadline means
// none; past it the task is woken with task.ErrTimeout.
func (q *FdQueues) BlockForReading(fd int, deadline time.Time) error {
	return q.block(fd, poller.Read, deadline)
}

// BlockForWriting parks the current task until fd is writable.
func (q *FdQueues) BlockForWriting(fd int, deadline time.Time) error {
	return q.block(fd, poller.Write, deadline)
}

// WaitReadable parks the generator-style task t until fd is readable and
// returns nil, or why it was woken otherwise: ErrClosed, task.ErrTimeout.
func (q *FdQueues) WaitReadable(t *task.Task, fd int, deadline time.Time) error {
	return q.wait(t, fd, poller.Read, deadline)
}

// WaitWritable parks the generator-style task t until fd is writable.
func (q *FdQueues) WaitWritable(t *task.Task, fd int, deadline time.Time) error {
	return q.wait(t, fd, poller.Write, deadline)
}

func (q *FdQueues) wait(t *task.Task, fd int, dir poller.Events, deadline time.Time) error {
	if err := q.block(fd, dir, deadline); err != nil {
		return err
	}
	t.Yield()
	return t.TakeWakeErr()
}

// block parks the current task on fd's queue for dir, first making sure the
// poller watches fd for dir. If the poller refuses fd (select's descriptor
// limit), the task is not parked and gets the error.
func (q *FdQueues) block(fd int, dir poller.Events, deadline time.Time) error {
	if fd < 0 {
		return fmt.Errorf("fdqueue: wait on descriptor %d: %w", fd, unix.EBADF)
	}
	fq := q.queues(fd)
	if err := q.watch(fd, fq, fq.watched|dir); err != nil {
		if errors.Is(err, unix.EPERM) {
			// epoll refuses regular files, which are always ready: the
			// task is not parked and only yields its turn.
			return nil
		}
		return fmt.Errorf("fdqueue: wait on descriptor %d: %w", fd, err)
	}
	queue := &fq.readq
	if dir == poller.Write {
		queue = &fq.writeq
	}
	if deadline.IsZero() {
		q.sched.Block(queue)
	} else {
		q.sched.BlockUntil(queue, deadline)
	}
	return nil
}

// queues returns fd's queues, creating them on first use: the essay's
// get_fd_queues.
func (q *FdQueues) queues(fd int) *fdQueue {
	if fd >= len(q.fds) {
		q.fds = append(q.fds, make([]*fdQueue, fd+1-len(q.fds))...)
	}
	fq := q.fds[fd]
	if fq == nil {
		name := "fd " + strconv.Itoa(fd)
		fq = &fdQueue{readq: task.Queue{Label: name + " read"}, writeq: task.Queue{Label: name + " write"}}
		fq.readq.Tally(&q.parked)
		fq.writeq.Tally(&q.parked)
		q.fds[fd] = fq
	}
	return fq
}

func (q *FdQueues) lookup(fd int) *fdQueue {
	if fd < 0 || fd >= len(q.fds) {
		return nil
	}
	return q.fds[fd]
}

// watch brings the poller's interest in fd to want.
func (q *FdQueues) watch(fd int, fq *fdQueue, want poller.Events) error {
	var err error
	switch {
	case want == fq.watched:
		return nil
	case fq.watched == 0:
		err = q.poller.Register(fd, want)
	case want == 0:
		err = q.poller.Unregister(fd)
	default:
		err = q.poller.Modify(fd, want)
	}
	if err == nil {
		fq.watched = want
	}
	return err
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
	q.wakeAll(&fq.readq, ErrClosed)
	q.wakeAll(&fq.writeq, ErrClosed)
	if fq.watched != 0 {
		q.poller.Unregister(fd) // the descriptor is on its way out; nothing to do on failure
	}
	q.fds[fd] = nil
}

func (q *FdQueues) wakeAll(queue *task.Queue, err error) {
	for t := queue.Front(); t != nil; t = queue.Front() {
		q.sched.Wake(t, err)
	}
}

// Wait is the essay's wait_for_event: it waits up to timeout (negative: no
// limit; zero: just poll) for the descriptors tasks are parked on, and for
// each one ready unblocks the head of its read queue, its write queue or
// both.
func (q *FdQueues) Wait(timeout time.Duration) error {
	if now := time.Now(); now.Sub(q.yield) >= yieldInterval {
		q.yield = now
		runtime.Gosched()
	}
	n, err := q.poller.Wait(q.events, timeout)
	if err != nil {
		return fmt.Errorf("fdqueue: %s wait: %w", q.poller.Name(), err)
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
// any more (the task timed out, or was killed) is no longer watched.
func (q *FdQueues) dispatch(ev poller.Event) {
	fq := q.lookup(ev.Fd)
	if fq == nil {
		q.poller.Unregister(ev.Fd) // a stray registration: drop it
		return
	}
	want := fq.watched
	if ev.Events&poller.Read != 0 && q.sched.Unblock(&fq.readq) == nil {
		want &^= poller.Read
	}
	if ev.Events&poller.Write != 0 && q.sched.Unblock(&fq.writeq) == nil {
		want &^= poller.Write
	}
	q.watch(ev.Fd, fq, want) // on failure the next event retries
}
