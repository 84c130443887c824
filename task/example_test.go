package task_test

import (
	"fmt"

	"github.com/lwtask/lwtask/scheduler"
	"github.com/lwtask/lwtask/task"
)

// The essay's person as a raw step function: a state machine whose state,
// how many times it has run, lives in the closure. Each call runs the task
// to its next suspension point.
func ExampleNewStep() {
	person := func(name string, count int) task.Step {
		i := 0
		return func(t *task.Task) task.Status {
			if i == count {
				return task.Finish
			}
			fmt.Println(name, "running")
			i++
			return task.Yield
		}
	}
	s := scheduler.New()
	s.Schedule(task.NewStep("John", person("John", 2)))
	s.Schedule(task.NewStep("Michael", person("Michael", 3)))
	s.Run()
	// Output:
	// John running
	// Michael running
	// John running
	// Michael running
	// Michael running
}

// countdown is a helper that suspends its caller: the essay's
// "yield from sub()" is a plain call that passes the task on.
func countdown(t *task.Task, name string, n int) {
	for ; n > 0; n-- {
		fmt.Println(name, n)
		t.Yield()
	}
}

// The same kind of task in generator style: ordinary Go that calls
// t.Yield, directly or in helpers it calls.
func ExampleNew() {
	s := scheduler.New()
	s.Schedule(task.New("Brian", func(t *task.Task) {
		countdown(t, "Brian", 3)
		fmt.Println("Brian done")
	}))
	s.Schedule(task.New("Reg", func(t *task.Task) {
		countdown(t, "Reg", 2)
		fmt.Println("Reg done")
	}))
	s.Run()
	// Output:
	// Brian 3
	// Reg 2
	// Brian 2
	// Reg 1
	// Brian 1
	// Reg done
	// Brian done
}

// A task waits in a labelled queue until another unblocks it: the essay's
// block(queue) and yield, then unblock(queue).
func ExampleTask_Wait() {
	s := scheduler.New()
	doorbell := task.Queue{Label: "doorbell"}
	s.Go("Arthur", func(t *task.Task) {
		fmt.Println("Arthur waiting for the doorbell")
		t.Wait(&doorbell)
		fmt.Println("Arthur opening the door")
	})
	s.Go("Lancelot", func(t *task.Task) {
		fmt.Println(s.Tasks()[0])
		fmt.Println("Lancelot ringing")
		doorbell.Unblock()
	})
	s.Run()
	// Output:
	// Arthur waiting for the doorbell
	// Arthur#1 blocked on doorbell
	// Lancelot ringing
	// Arthur opening the door
}
