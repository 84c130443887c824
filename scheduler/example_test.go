package scheduler_test

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/lwtask/lwtask/scheduler"
	"github.com/lwtask/lwtask/task"
	"github.com/lwtask/lwtask/utensil"
)

// The essay's first test: three people taking turns, round robin.
func ExampleScheduler() {
	person := func(name string, count int) *task.Task {
		return task.New(name, func(t *task.Task) {
			for range count {
				fmt.Println(name, "running")
				t.Yield()
			}
		})
	}
	s := scheduler.New()
	s.Schedule(person("John", 2))
	s.Schedule(person("Michael", 3))
	s.Schedule(person("Terry", 4))
	s.Run()
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

// A raw step function blocks itself on a labelled queue and returns Yield:
// the essay's block(queue). Its step is called again once another task
// unblocks it, the essay's unblock(queue).
func Example_block() {
	s := scheduler.New()
	doorbell := task.Queue{Label: "doorbell"}
	waiting := false
	s.GoStep("Arthur", func(t *task.Task) task.Status {
		if !waiting {
			fmt.Println("Arthur waiting for the doorbell")
			waiting = true
			t.Block(&doorbell)
			return task.Yield
		}
		fmt.Println("Arthur opening the door")
		return task.Finish
	})
	s.Go("Lancelot", func(t *task.Task) {
		fmt.Println("Lancelot ringing")
		woken := doorbell.Unblock()
		fmt.Println("Lancelot woke", woken)
	})
	s.Run()
	// Output:
	// Arthur waiting for the doorbell
	// Lancelot ringing
	// Lancelot woke Arthur#1
	// Arthur opening the door
}

// Kill ends a task wherever it is; a generator-style task unwinds through
// its deferred calls.
func ExampleScheduler_Kill() {
	s := scheduler.New()
	never := task.Queue{Label: "the Messiah"}
	brian := s.Go("Brian", func(t *task.Task) {
		defer fmt.Println("Brian's deferred call runs")
		t.Wait(&never)
		fmt.Println("not reached")
	})
	s.Go("Pilate", func(t *task.Task) {
		fmt.Println("Pilate kills", brian)
		s.Kill(brian)
		fmt.Println("Brian is done:", brian.Done())
	})
	fmt.Println(s.Run())
	// Output:
	// Pilate kills Brian#1
	// Brian's deferred call runs
	// Brian is done: true
	// <nil>
}

// Run reports tasks that wait for something nothing can provide, here two
// philosophers each holding the fork the other wants.
func ExampleDeadlockError() {
	s := scheduler.New()
	fork0, fork1 := utensil.New("fork 0"), utensil.New("fork 1")
	philosopher := func(name string, left, right *utensil.Utensil) {
		s.Go(name, func(t *task.Task) {
			left.Acquire(t)
			t.Yield()
			right.Acquire(t)
			fmt.Println(name, "eating spam")
		})
	}
	philosopher("Plato", fork0, fork1)
	philosopher("Socrates", fork1, fork0)
	err := s.Run()
	var deadlock *scheduler.DeadlockError
	if errors.As(err, &deadlock) {
		for _, info := range deadlock.Blocked {
			fmt.Println(info.Name, "waits for", info.WaitingFor)
		}
	}
	// Output:
	// Plato waits for fork 1
	// Socrates waits for fork 0
}

// By default a panic in a task ends Run, which returns it as a
// *task.PanicError; the other tasks are ended.
func ExampleScheduler_Run_panic() {
	s := scheduler.New()
	s.Go("Knight", func(t *task.Task) {
		t.Yield()
		panic("Ni!")
	})
	s.Go("Arthur", func(t *task.Task) {
		for {
			fmt.Println("Arthur riding")
			t.Yield()
		}
	})
	err := s.Run()
	var p *task.PanicError
	if errors.As(err, &p) {
		fmt.Println(p.Name, "panicked:", p.Value)
	}
	// Output:
	// Arthur riding
	// Knight panicked: Ni!
}

// With a panic handler only the panicking task is ended; the others go on.
// (The handler prints only the value: a PanicError's stack varies.)
func ExampleScheduler_SetPanicHandler() {
	s := scheduler.New()
	logger := log.New(os.Stdout, "", 0)
	s.SetPanicHandler(func(p *task.PanicError) {
		logger.Printf("%s panicked: %v", p.Name, p.Value)
	})
	s.Go("Knight", func(t *task.Task) {
		t.Yield()
		panic("Ni!")
	})
	s.Go("Arthur", func(t *task.Task) {
		for range 3 {
			fmt.Println("Arthur riding")
			t.Yield()
		}
	})
	fmt.Println("Run returned", s.Run())
	// Output:
	// Arthur riding
	// Knight panicked: Ni!
	// Arthur riding
	// Arthur riding
	// Run returned <nil>
}

// LogPanics logs each panic with its stack. The stack varies from run to
// run, so this example prints only the first line of the log.
func ExampleLogPanics() {
	var buf bytes.Buffer
	s := scheduler.New()
	s.SetPanicHandler(scheduler.LogPanics(log.New(&buf, "", 0)))
	s.Go("Knight", func(t *task.Task) { panic("Ni!") })
	s.Run()
	first, _, _ := strings.Cut(buf.String(), "\n")
	fmt.Println(first)
	// Output:
	// task Knight#1 panicked: Ni!
}

// Tasks is a snapshot of the task table, here taken by a running task.
func ExampleScheduler_Tasks() {
	s := scheduler.New()
	doorbell := task.Queue{Label: "doorbell"}
	s.Go("Arthur", func(t *task.Task) { t.Wait(&doorbell) })
	s.Go("Lancelot", func(t *task.Task) {
		for _, info := range s.Tasks() {
			fmt.Println(info)
		}
		doorbell.Unblock()
	})
	s.Go("Robin", func(t *task.Task) {})
	s.Run()
	// Output:
	// Arthur#1 blocked on doorbell
	// Lancelot#2 running
	// Robin#3 ready
}

// DumpTasks writes the same table for people to read.
func ExampleScheduler_DumpTasks() {
	s := scheduler.New()
	doorbell := task.Queue{Label: "doorbell"}
	s.Go("Arthur", func(t *task.Task) { t.Wait(&doorbell) })
	s.Go("Lancelot", func(t *task.Task) {
		s.DumpTasks(os.Stdout)
		doorbell.Unblock()
	})
	s.Run()
	// Output:
	// ID  NAME      STATE    WAITING FOR  WAITED
	// 1   Arthur    blocked  doorbell     0s
	// 2   Lancelot  running
}
