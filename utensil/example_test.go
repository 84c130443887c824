package utensil_test

import (
	"fmt"

	"github.com/lwtask/lwtask/scheduler"
	"github.com/lwtask/lwtask/task"
	"github.com/lwtask/lwtask/utensil"
)

// Release hands the fork straight to the philosopher waiting for it, so
// Plato cannot take it back before Socrates has eaten.
func ExampleUtensil() {
	s := scheduler.New()
	fork := utensil.New("fork 0")
	s.Go("Plato", func(t *task.Task) {
		fork.Acquire(t)
		fmt.Println("Plato eating spam")
		t.Yield()
		fork.Release(t)
		fmt.Println("Plato released fork 0 to", fork.Holder().Name())
		fork.Acquire(t)
		fmt.Println("Plato eating spam again")
		fork.Release(t)
	})
	s.Go("Socrates", func(t *task.Task) {
		fmt.Println("Socrates waiting for fork 0")
		fork.Acquire(t)
		fmt.Println("Socrates eating spam")
		fork.Release(t)
	})
	s.Run()
	// Output:
	// Plato eating spam
	// Socrates waiting for fork 0
	// Plato released fork 0 to Socrates
	// Socrates eating spam
	// Plato eating spam again
}

// A raw step function asks with Request. When the fork is taken, the step
// returns Yield and holds the fork when it is next called.
func ExampleUtensil_Request() {
	s := scheduler.New()
	fork := utensil.New("fork 0")
	s.Go("Plato", func(t *task.Task) {
		fork.Acquire(t)
		t.Yield()
		fork.Release(t)
	})
	asked := false
	s.GoStep("Euclid", func(t *task.Task) task.Status {
		if !asked {
			asked = true
			if granted, _ := fork.Request(t); !granted {
				fmt.Println("Euclid waiting for", fork.Name())
				return task.Yield
			}
		}
		fmt.Println("Euclid holds", fork.Name())
		fork.Release(t)
		return task.Finish
	})
	s.Run()
	// Output:
	// Euclid waiting for fork 0
	// Euclid holds fork 0
}
