package fdqueue_test

import (
	"fmt"
	"time"

	"github.com/lwtask/lwtask/fdqueue"
	"github.com/lwtask/lwtask/scheduler"
	"github.com/lwtask/lwtask/task"
	"golang.org/x/sys/unix"
)

// exampleLoop plumbs a scheduler and its descriptor queues together, as
// lwtask.New does: the queues are where the scheduler waits when no task is
// ready. Close the queues once Run has returned.
func exampleLoop() (*scheduler.Scheduler, *fdqueue.FdQueues) {
	q, err := fdqueue.New("")
	if err != nil {
		panic(err)
	}
	return scheduler.New(scheduler.WithEventSource(q)), q
}

// examplePipe returns a pipe whose read end is non-blocking, so that a
// read with nothing to read fails with EAGAIN instead of stopping every
// task.
func examplePipe() (r, w int) {
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		panic(err)
	}
	if err := unix.SetNonblock(p[0], true); err != nil {
		panic(err)
	}
	return p[0], p[1]
}

// The essay's block_for_reading in a raw step function: when the pipe is
// empty the step parks its task on the pipe's read queue and yields, and
// the scheduler calls it again once the pipe is readable.
func ExampleFdQueues_BlockForReading() {
	s, q := exampleLoop()
	defer q.Close()
	r, w := examplePipe()

	buf := make([]byte, 64)
	s.GoStep("reader", func(t *task.Task) task.Status {
		if err := t.WaitErr(); err != nil { // a deadline, or CloseFd
			fmt.Println("reader:", err)
			q.CloseFd(r)
			return task.Finish
		}
		n, err := unix.Read(r, buf)
		switch {
		case err == unix.EAGAIN:
			fmt.Println("reader: waiting for input")
			if err := q.BlockForReading(t, r, time.Time{}); err != nil {
				fmt.Println("reader:", err)
				q.CloseFd(r)
				return task.Finish
			}
			return task.Yield
		case err != nil || n == 0:
			fmt.Println("reader: end of input")
			q.CloseFd(r)
			return task.Finish
		}
		fmt.Printf("reader: input was %q\n", buf[:n])
		return task.Yield
	})
	s.GoStep("writer", func(t *task.Task) task.Status {
		fmt.Println("writer: writing")
		unix.Write(w, []byte("SPAM 3\n"))
		q.CloseFd(w)
		return task.Finish
	})
	if err := s.Run(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// reader: waiting for input
	// writer: writing
	// reader: input was "SPAM 3\n"
	// reader: end of input
}

// In generator style the wait is one call. A deadline bounds it: the task
// is woken with task.ErrTimeout if the descriptor is not ready by then.
func ExampleFdQueues_WaitReadable() {
	s, q := exampleLoop()
	defer q.Close()
	r, w := examplePipe()

	s.Go("reader", func(t *task.Task) {
		defer q.CloseFd(r)
		defer q.CloseFd(w)
		err := q.WaitReadable(t, r, time.Now().Add(10*time.Millisecond))
		fmt.Println("reader:", err)
	})
	if err := s.Run(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// reader: i/o timeout
}

// Closing a descriptor through its queues wakes the tasks parked on it with
// ErrClosed; the essay's close_fd would leave them waiting forever.
func ExampleFdQueues_CloseFd() {
	s, q := exampleLoop()
	defer q.Close()
	r, w := examplePipe()

	s.Go("reader", func(t *task.Task) {
		err := q.WaitReadable(t, r, time.Time{})
		fmt.Println("reader:", err)
	})
	s.Go("closer", func(t *task.Task) {
		fmt.Println("closer: closing the pipe")
		q.CloseFd(r)
		q.CloseFd(w)
	})
	if err := s.Run(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// closer: closing the pipe
	// reader: use of closed descriptor
}
