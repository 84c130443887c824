package lwtask

import (
	"fmt"
	"iter"
	"runtime"
	"sync"
	"testing"

	"github.com/lwtask/lwtask/scheduler"
	"github.com/lwtask/lwtask/task"
	"github.com/lwtask/lwtask/timeline"
)

// BenchmarkSwitch measures a task switch: one step of one task in a round
// robin of N tasks. b.N is the total number of switches, shared out among
// the N tasks. Creating the tasks and bringing them to an idle, parked state
// is not timed; B/task is the memory they hold then.
//
//   - step: raw step functions counting down their share (GoStep, Run).
//   - generator: generator-style tasks calling t.Yield() in a loop (Go, Run).
//   - goroutine: the peer, goroutines calling runtime.Gosched() under
//     GOMAXPROCS=1.
//
// docs/benchmarks.md says how to run it and what it measured.
func BenchmarkSwitch(b *testing.B) {
	b.Run("step", sizes(benchStep))
	b.Run("generator", sizes(benchGenerator))
	b.Run("goroutine", sizes(benchGoroutine))
}

// BenchmarkRecorded is BenchmarkSwitch's step and generator with a
// timeline.Recorder on: each switch then records a Start and an End (a
// ring of 1<<16 events, long since full when timing starts to matter).
// Without one, BenchmarkSwitch is what a program pays: docs/benchmarks.md
// compares both with the switch before the recorder existed.
func BenchmarkRecorded(b *testing.B) {
	rec := func(bench func(*testing.B, int, ...scheduler.Option)) func(*testing.B, int) {
		return func(b *testing.B, n int) { bench(b, n, scheduler.WithRecorder(timeline.NewRecorder(1<<16))) }
	}
	b.Run("step", sizes(rec(benchStepWith)))
	b.Run("generator", sizes(rec(benchGeneratorWith)))
}

// BenchmarkBare measures, for reference, the mechanisms under the task
// kinds without the scheduler: "funcs" calls a slice of closures round
// robin; "queue" runs step closures from the smallest O(1) ready list, a
// linked FIFO of one small object per step, which is the floor for the
// step benchmark's scheduler; "pull" resumes iter.Pull coroutines round
// robin, the generator benchmark's switch. Run with BenchmarkSwitch
// (-bench 'Switch|Bare') it shows what the scheduler adds.
func BenchmarkBare(b *testing.B) {
	b.Run("funcs", sizes(bareFuncs))
	b.Run("queue", sizes(bareQueue))
	b.Run("pull", sizes(barePull))
}

// sizes returns a benchmark that runs bench on round robins of 3, 1000 and
// 100000 tasks, as sub-benchmarks N=n that report ns/switch.
func sizes(bench func(b *testing.B, n int)) func(*testing.B) {
	return func(b *testing.B) {
		for _, n := range []int{3, 1000, 100000} {
			b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
				b.ReportAllocs()
				bench(b, n)
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/switch")
			})
		}
	}
}

func benchStep(b *testing.B, n int) { benchStepWith(b, n) }

func benchStepWith(b *testing.B, n int, opts ...scheduler.Option) {
	s := scheduler.New(opts...)
	var idle []*task.Task // tasks with no switch to do, when b.N < n
	before := footprint()
	for i := range n {
		left := share(b.N, n, i)
		t := s.GoStep("step", func(*task.Task) task.Status {
			left--
			if left == 0 {
				return task.Finish
			}
			return task.Yield
		})
		if left == 0 {
			idle = append(idle, t)
		}
	}
	bytes := footprint() - before
	for _, t := range idle {
		s.Kill(t)
	}
	b.ResetTimer()
	if err := s.Run(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	reportBytes(b, bytes, n)
}

// benchGenerator parks every task at a gate in its first step, which starts
// its coroutine, so that the memory measured includes the coroutines and the
// timed switches are all resumptions of running coroutines.
func benchGenerator(b *testing.B, n int) { benchGeneratorWith(b, n) }

func benchGeneratorWith(b *testing.B, n int, opts ...scheduler.Option) {
	s := scheduler.New(opts...)
	gate := task.Queue{Label: "gate"}
	before := footprint()
	for i := range n {
		k := share(b.N, n, i)
		s.Go("generator", func(t *task.Task) {
			if err := t.Wait(&gate); err != nil {
				panic(err)
			}
			for j := 1; j < k; j++ {
				t.Yield()
			}
		})
	}
	// Scheduled last, this runs once every task waits at the gate; the
	// switches timed are the resumptions it makes ready.
	var bytes int64
	s.GoStep("open gate", func(*task.Task) task.Status {
		bytes = footprint() - before
		for i := range n {
			if share(b.N, n, i) > 0 {
				gate.Unblock()
			} else {
				s.Kill(gate.Front())
			}
		}
		b.ResetTimer()
		return task.Finish
	})
	if err := s.Run(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	reportBytes(b, bytes, n)
}

// benchGoroutine parks the goroutines on a channel. A goroutine's first run
// after the gate opens is its first switch, as a task's first resumption is.
func benchGoroutine(b *testing.B, n int) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	start, quit := make(chan struct{}), make(chan struct{})
	var parked, quitted, done sync.WaitGroup
	before := footprint()
	for i := range n {
		k := share(b.N, n, i)
		gate, wg := start, &done
		if k == 0 {
			gate, wg = quit, &quitted
		}
		parked.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			parked.Done()
			<-gate
			for j := 1; j < k; j++ {
				runtime.Gosched()
			}
		}()
	}
	parked.Wait()
	runtime.Gosched() // let the last one reach the gate
	bytes := footprint() - before
	close(quit)
	quitted.Wait()
	// The goroutines are made runnable now but run only once this one
	// blocks in done.Wait, on the one P.
	close(start)
	b.ResetTimer()
	done.Wait()
	b.StopTimer()
	reportBytes(b, bytes, n)
}

func bareFuncs(b *testing.B, n int) {
	steps := make([]func() (done bool), n)
	live := 0
	for i := range steps {
		if left := share(b.N, n, i); left > 0 {
			steps[i] = func() bool {
				left--
				return left == 0
			}
			live++
		}
	}
	b.ResetTimer()
	for live > 0 {
		for i, step := range steps {
			if step != nil && step() {
				steps[i] = nil
				live--
			}
		}
	}
	b.StopTimer()
}

// bareStep is an entry of bareQueue's ready list.
type bareStep struct {
	next *bareStep
	step func() (done bool)
}

func bareQueue(b *testing.B, n int) {
	var head, tail *bareStep
	push := func(e *bareStep) {
		e.next = nil
		if tail == nil {
			head = e
		} else {
			tail.next = e
		}
		tail = e
	}
	for i := range n {
		if left := share(b.N, n, i); left > 0 {
			push(&bareStep{step: func() bool {
				left--
				return left == 0
			}})
		}
	}
	b.ResetTimer()
	for head != nil {
		e := head
		head = e.next
		if head == nil {
			tail = nil
		}
		if !e.step() {
			push(e)
		}
	}
	b.StopTimer()
}

func barePull(b *testing.B, n int) {
	nexts := make([]func() (struct{}, bool), n)
	stops := make([]func(), n)
	lefts := make([]int, n)
	live := 0
	for i := range n {
		nexts[i], stops[i] = iter.Pull(func(yield func(struct{}) bool) {
			for yield(struct{}{}) {
			}
		})
		nexts[i]() // run it to its first yield, as the generator benchmark's gate does
		if lefts[i] = share(b.N, n, i); lefts[i] > 0 {
			live++
		}
	}
	b.ResetTimer()
	for live > 0 {
		for i, next := range nexts {
			if lefts[i] > 0 {
				next()
				lefts[i]--
				if lefts[i] == 0 {
					live--
				}
			}
		}
	}
	b.StopTimer()
	for _, stop := range stops {
		stop()
	}
}

// share returns how many of total switches the i-th of n tasks does.
func share(total, n, i int) int {
	k := total / n
	if i < total%n {
		k++
	}
	return k
}

// footprint returns the bytes of live heap objects plus goroutine stacks,
// after a full collection. The stacks of coroutines and goroutines are not
// in the heap; HeapAlloc rather than HeapInuse counts the heap to the byte
// instead of in whole spans, which would swamp the figure for 3 tasks.
func footprint() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc + m.StackInuse)
}

// reportBytes reports B/task. It must come after the last ResetTimer,
// which deletes reported metrics.
func reportBytes(b *testing.B, bytes int64, n int) {
	b.ReportMetric(float64(bytes)/float64(n), "B/task")
}
