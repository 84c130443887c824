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

// ErrTimeout is returned by a wait whose deadline passed.
var ErrTimeout = task.ErrTimeout

// Runtime is a scheduler together with its event source. Its methods, those
// of the embedded *scheduler.Scheduler, belong to the goroutine that calls
// Run, except Post and Stop.
type Runtime struct {
	*scheduler.Scheduler
}

// New returns a Runtime with no tasks.
func New() (*Runtime, error) {
	return &Runtime{Scheduler: scheduler.New()}, nil
}

// Close releases what the runtime holds outside the Go heap. Call it once
// Run has returned.
func (r *Runtime) Close() error { return nil }
