package lwtask_test

import (
	"fmt"

	"github.com/lwtask/lwtask"
	"github.com/lwtask/lwtask/utensil"
)

// person is the essay's first task: it runs count times, yielding after each.
func person(t *lwtask.Task, name string, count int) {
	for range count {
		fmt.Println(name, "running")
		t.Yield()
	}
}

// The essay's three people, taking turns round robin.
func Example() {
	rt, err := lwtask.New()
	if err != nil {
		panic(err)
	}
	defer rt.Close()
	rt.Go("John", func(t *lwtask.Task) { person(t, "John", 2) })
	rt.Go("Michael", func(t *lwtask.Task) { person(t, "Michael", 3) })
	rt.Go("Terry", func(t *lwtask.Task) { person(t, "Terry", 4) })
	if err := rt.Run(); err != nil {
		panic(err)
	}
	// Output:
	// John running
	// Michael running
	// Terry running
	// John running
	// Michael running
	// Terry running
	// Michael running
	// Terry running
	// Terry running
}

// Two of the essay's philosophers at a table of two forks, each eating
// once. Acquire is the essay's "yield from fork.acquire()".
func Example_philosophers() {
	rt, err := lwtask.New()
	if err != nil {
		panic(err)
	}
	defer rt.Close()
	forks := []*utensil.Utensil{utensil.New("fork 0"), utensil.New("fork 1")}
	philosopher := func(name string, left, right int) {
		rt.Go(name, func(t *lwtask.Task) {
			fmt.Println(name, "waiting for fork", left)
			forks[left].Acquire(t)
			fmt.Println(name, "waiting for fork", right)
			forks[right].Acquire(t)
			fmt.Println(name, "eating spam")
			t.Yield()
			forks[left].Release(t)
			forks[right].Release(t)
			fmt.Println(name, "leaving the table")
		})
	}
	philosopher("Plato", 0, 1)
	philosopher("Socrates", 0, 1)
	if err := rt.Run(); err != nil {
		panic(err)
	}
	// Output:
	// Plato waiting for fork 0
	// Plato waiting for fork 1
	// Plato eating spam
	// Socrates waiting for fork 0
	// Plato leaving the table
	// Socrates waiting for fork 1
	// Socrates eating spam
	// Socrates leaving the table
}
