package task_test

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lwtask/lwtask/scheduler"
	"github.com/lwtask/lwtask/task"
)

// BenchmarkChan measures channel operations between tasks against the same
// programs on goroutines and Go's own types, in the same run. Each scenario
// has three sub-benchmarks:
//
//   - generator: generator-style tasks (Go) with Send, Recv, Select,
//     Acquire;
//   - step: raw step tasks (GoStep), state machines with SendStep,
//     RecvStep, SelectStep, AcquireStep;
//   - goroutine: the peer, goroutines with a Go chan, select, or a buffered
//     chan of 1 as a semaphore, under GOMAXPROCS=1, which it sets and then
//     restores.
//
// An op is one value handed from one task (goroutine) to another: a value
// sent by one and received by another, or, for the semaphore, the permit
// passing from the task releasing it to the next task waiting for it. b.N
// is the number of ops, so ns/op is the time per hand-off.
//
// The scenarios:
//
//   - pingpong: two tasks take turns over two unbuffered channels: one
//     sends on ping and the other receives, then the other sends on pong
//     and the first receives.
//   - mpmc: 8 producers and 8 consumers on a channel of capacity 16; the
//     producers share out b.N values, the last one to finish closes the
//     channel, and the consumers receive until it is closed.
//   - select: a task selects over two unbuffered channels, each fed by a
//     task of its own; each select receives one value.
//   - semaphore: 4 tasks take turns on a Semaphore of 1 (the peer: a
//     buffered chan of 1, acquired by sending): acquire, count, release.
//     Each yields once holding the permit, the first time, so that the
//     others queue; from then on every release hands the permit on (see
//     semaphore).
//
// Creating the tasks is not timed. Each task first does a warm-up of the
// same work (64 ops of its own), which starts its coroutine and makes the
// channels' and the tasks' waiting records, then waits at a gate; the timer
// starts when the gate opens and stops when the last task is done, so
// allocs/op is the steady state's. Goroutines are created before the timer
// starts and wait on a chan that is closed once it has.
//
//	go test -run '^$' -bench Chan -count=5 ./task/
//
// docs/benchmarks.md, "Channels", has the figures.
func BenchmarkChan(b *testing.B) {
	for _, sc := range scenarios {
		b.Run(sc.name, func(b *testing.B) {
			b.Run("generator", func(b *testing.B) { benchTasks(b, sc, false) })
			b.Run("step", func(b *testing.B) { benchTasks(b, sc, true) })
			b.Run("goroutine", func(b *testing.B) {
				b.ReportAllocs()
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
				sc.peer(b, b.N)
			})
		})
	}
}

// BenchmarkChanFloor measures what BenchmarkChan's figures stand on:
//
//   - queue: pingpong's two tasks taking turns, but through a task.Queue
//     each and a flag saying whose turn it is: the wait and wake of
//     internal/core and the scheduler's turn, with no channel. An op is one
//     task handing the turn to the other, which waits for it. pingpong
//     less this is what the channel adds.
//   - turn: one task alone, yielding: each step is a whole turn of the
//     scheduler's loop, as in pingpong, where one task is ready at a time;
//     for a generator, with the two coroutine switches of a step. An op is
//     a step.
//   - buffer: a value through a channel's buffer with no task switch, the
//     least a buffered op can cost: TrySend then TryRecv on a Chan of
//     capacity 16, and for Go a send then a receive on a chan of 16, in
//     one goroutine.
func BenchmarkChanFloor(b *testing.B) {
	b.Run("queue/generator", func(b *testing.B) { benchTasks(b, floor, false) })
	b.Run("queue/step", func(b *testing.B) { benchTasks(b, floor, true) })
	b.Run("turn/generator", func(b *testing.B) { benchTasks(b, lone, false) })
	b.Run("turn/step", func(b *testing.B) { benchTasks(b, lone, true) })
	b.Run("buffer/lwtask", func(b *testing.B) {
		b.ReportAllocs()
		c := task.NewChan[int]("buffer", mpmcBufSize)
		sum := 0
		for i := range b.N {
			if ok, err := c.TrySend(i); !ok || err != nil {
				b.Fatal(ok, err)
			}
			v, ok, err := c.TryRecv()
			if !ok || err != nil {
				b.Fatal(ok, err)
			}
			sum += v
		}
		if sum != triangle(b.N) {
			b.Fatal(sum)
		}
	})
	b.Run("buffer/go", func(b *testing.B) {
		b.ReportAllocs()
		c := make(chan int, mpmcBufSize)
		sum := 0
		for i := range b.N {
			c <- i
			sum += <-c
		}
		if sum != triangle(b.N) {
			b.Fatal(sum)
		}
	})
}

var (
	floor = scenario{name: "floor", tasks: turns}
	lone  = scenario{name: "turn", tasks: alone}
)

// warmOps is how many ops each task does before the gate.
const warmOps = 64

// A scenario sets up one of the programs on a rig's scheduler, for generator
// or raw step tasks, with ops timed ops; the check it returns tells whether
// every value arrived. peer is the program on goroutines.
type scenario struct {
	name  string
	tasks func(r *rig, ops int, raw bool) (check func() error)
	peer  func(b *testing.B, ops int)
}

var scenarios = []scenario{
	{"pingpong", pingPong, pingPongPeer},
	{"mpmc", mpmc, mpmcPeer},
	{"select", selectTwo, selectPeer},
	{"semaphore", semaphore, semaphorePeer},
}

func benchTasks(b *testing.B, sc scenario, raw bool) {
	b.ReportAllocs()
	r := newRig(b)
	check := sc.tasks(r, b.N, raw)
	if err := r.run(); err != nil {
		b.Fatal(err)
	}
	if err := check(); err != nil {
		b.Fatal(err)
	}
}

// TestChanBenchAllocs runs the task programs of BenchmarkChan briefly and
// checks that every value arrives and that the timed part, after the
// warm-up, allocates nothing.
func TestChanBenchAllocs(t *testing.T) {
	for _, sc := range append(scenarios[:len(scenarios):len(scenarios)], floor, lone) {
		for _, raw := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/raw=%v", sc.name, raw), func(t *testing.T) {
				// Another goroutine may allocate meanwhile (the collector,
				// a timer of an earlier test): allocating in all of three
				// tries is the failure.
				var allocs uint64
				for range 3 {
					var m mallocs
					r := newRig(&m)
					check := sc.tasks(r, 1000, raw)
					if err := r.run(); err != nil {
						t.Fatal(err)
					}
					if err := check(); err != nil {
						t.Fatal(err)
					}
					if allocs = m.stop - m.start; allocs == 0 {
						return
					}
				}
				t.Errorf("%d allocations in 1000 ops after the warm-up", allocs)
			})
		}
	}
}

// TestSelectStepRecords checks that a raw step's SelectStep gives back
// the records its channel cases take, whichever way a call ends: a case
// completed at once, the task parked and woken by one case (the others'
// records released at the next call), or its turn spent before it could
// try (nothing armed). A raw step sends 0 to n-1, each on whichever of two
// buffered channels has room, beside a timer case that never fires; two
// tasks receive them. Every value must arrive once, and the sends after
// the first hundred must allocate nothing.
func TestSelectStepRecords(t *testing.T) {
	// Another goroutine may allocate meanwhile: see TestChanBenchAllocs.
	var allocs uint64
	for range 3 {
		if allocs = selectStepRecords(t); allocs == 0 || t.Failed() {
			return
		}
	}
	t.Errorf("%d allocations in the sends after the first hundred", allocs)
}

// selectStepRecords runs TestSelectStepRecords once, and returns the
// allocations after the warm-up.
func selectStepRecords(t *testing.T) uint64 {
	const n, warm = 2000, 100
	s := scheduler.New()
	chans := [2]*task.Chan[int]{task.NewChan[int]("a", 40), task.NewChan[int]("b", 40)}
	far := time.Now().Add(time.Hour)
	got := make([]int, 0, n) // appending allocates nothing
	var start, end uint64
	var waits, spent int
	i := 0
	s.GoStep("sender", func(tk *task.Task) task.Status {
		for ; i < n; i++ {
			if i == warm {
				start = readMallocs()
			}
			k, err := task.SelectStep(tk, chans[0].SendCase(i), chans[1].SendCase(i), task.Until(far))
			if err == task.ErrAgain {
				if chans[0].Len() == chans[0].Cap() && chans[1].Len() == chans[1].Cap() {
					waits++ // no room: it was parked
				} else {
					spent++
				}
				return task.Yield
			}
			if err != nil || k < 0 || k > 1 {
				t.Errorf("send %d: case %d, %v", i, k, err)
			}
		}
		end = readMallocs()
		chans[0].Close()
		chans[1].Close()
		return task.Finish
	})
	for j := range 2 {
		s.Go(fmt.Sprint("receiver ", j), func(tk *task.Task) {
			for v := range chans[j].All(tk, nil) {
				got = append(got, v)
				tk.Yield() // one a turn, so that the channels fill and the sender waits
			}
		})
	}
	if err := s.Run(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if len(got) != n || got[0] != 0 || got[n-1] != n-1 || len(slices.Compact(got)) != n {
		t.Fatalf("received %d values, want 0 to %d once each", len(got), n-1)
	}
	if waits == 0 || spent == 0 {
		t.Errorf("the sender waited %d times and spent its turn %d times: both should happen", waits, spent)
	}
	return end - start
}

// timer is what a rig starts and stops: a *testing.B, or mallocs.
type timer interface {
	ResetTimer()
	StopTimer()
}

// mallocs counts the heap allocations between ResetTimer and StopTimer.
type mallocs struct{ start, stop uint64 }

func (m *mallocs) ResetTimer() { m.start = readMallocs() }
func (m *mallocs) StopTimer()  { m.stop = readMallocs() }

func readMallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// A rig runs a program's tasks on a scheduler of their own. Each worker
// does its warm-up, waits at the gate, does its timed ops and calls done. A
// last task, the starter, opens the gate once every worker waits there,
// and starts the timer; the last worker's done stops it.
type rig struct {
	tm      timer
	s       *scheduler.Scheduler
	gate    task.Queue
	workers int
	left    int // workers not done yet
}

func newRig(tm timer) *rig { return &rig{tm: tm, s: scheduler.New()} }

func (r *rig) run() error {
	r.s.GoStep("starter", func(*task.Task) task.Status {
		if r.gate.Len() < r.workers {
			return task.Yield
		}
		for r.gate.Unblock() != nil {
		}
		r.tm.ResetTimer()
		return task.Finish
	})
	return r.s.Run()
}

func (r *rig) done() {
	if r.left--; r.left == 0 {
		r.tm.StopTimer()
	}
}

// gen starts a generator-style worker: work(t, warm, false), the gate,
// work(t, ops, true).
func (r *rig) gen(name string, warm, ops int, work func(t *task.Task, k int, timed bool)) {
	r.workers++
	r.left++
	r.s.Go(name, func(t *task.Task) {
		work(t, warm, false)
		if err := t.Wait(&r.gate); err != nil {
			panic(err)
		}
		work(t, ops, true)
		r.done()
	})
}

// phases is a raw step worker's progress: its warm-up, its wait at the
// gate, its timed ops. A worker's step does ops while i < k, and calls next
// once i == k.
type phases struct {
	r     *rig
	phase int // warmUp, atGate, timed, over
	i, k  int // ops done in this phase, and to do; -1 for "until closed"
	ops   int // the timed phase's k
}

const (
	warmUp = iota
	atGate
	timed
	over
)

func (r *rig) phases(warm, ops int) phases {
	r.workers++
	r.left++
	return phases{r: r, k: warm, ops: ops}
}

// next moves on to the next phase. It returns true with the status the step
// returns, or false for the step to go on with its ops.
func (p *phases) next(t *task.Task) (task.Status, bool) {
	switch p.phase {
	case warmUp:
		p.phase = atGate
		if err := t.Block(&p.r.gate); err != nil {
			panic(err)
		}
		return task.Yield, true
	case atGate:
		if err := t.WaitErr(); err != nil {
			panic(err)
		}
		p.phase, p.i, p.k = timed, 0, p.ops
		return task.Yield, false
	}
	p.phase = over
	p.r.done()
	return task.Finish, true
}

// --- pingpong ---

// pingPong: op i goes over chans[i%2], sent by side i%2 and received by
// the other side.
func pingPong(r *rig, ops int, raw bool) func() error {
	chans := [2]*task.Chan[int]{task.NewChan[int]("ping", 0), task.NewChan[int]("pong", 0)}
	var sum [2]int
	for side := range 2 {
		if raw {
			p := &pingPongStep{phases: r.phases(2*warmOps, ops), chans: chans, side: side, sum: &sum[side]}
			r.s.GoStep(fmt.Sprint("side ", side), p.step)
			continue
		}
		r.gen(fmt.Sprint("side ", side), 2*warmOps, ops, func(t *task.Task, k int, _ bool) {
			for i := range k {
				c := chans[i&1]
				if i&1 == side {
					if err := c.Send(t, i); err != nil {
						panic(err)
					}
				} else {
					v, err := c.Recv(t)
					if err != nil {
						panic(err)
					}
					sum[side] += v
				}
			}
		})
	}
	return func() error {
		want := triangle(2*warmOps) + triangle(ops)
		if got := sum[0] + sum[1]; got != want {
			return fmt.Errorf("pingpong: received values summing to %d, want %d", got, want)
		}
		return nil
	}
}

// triangle returns 0 + 1 + ... + n-1.
func triangle(n int) int { return n * (n - 1) / 2 }

type pingPongStep struct {
	phases
	chans [2]*task.Chan[int]
	side  int
	sum   *int
}

func (p *pingPongStep) step(t *task.Task) task.Status {
	for {
		if p.i == p.k {
			if st, ret := p.next(t); ret {
				return st
			}
			continue
		}
		c := p.chans[p.i&1]
		var err error
		if p.i&1 == p.side {
			err = c.SendStep(t, p.i)
		} else {
			var v int
			v, err = c.RecvStep(t)
			*p.sum += v
		}
		if err == task.ErrAgain {
			return task.Yield
		}
		if err != nil {
			panic(err)
		}
		p.i++
	}
}

func pingPongPeer(b *testing.B, ops int) {
	chans := [2]chan int{make(chan int), make(chan int)}
	var sum [2]int
	goroutines(b, 2, func(side int) {
		for i := range ops {
			c := chans[i&1]
			if i&1 == side {
				c <- i
			} else {
				sum[side] += <-c
			}
		}
	})
	if got, want := sum[0]+sum[1], triangle(ops); got != want {
		b.Fatalf("pingpong: received values summing to %d, want %d", got, want)
	}
}

// goroutines runs body(0) ... body(n-1) on n goroutines, timed from when
// they are let go to when the last one is done. They are created first, and
// run only once this goroutine blocks, on the one P.
func goroutines(b *testing.B, n int, body func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			body(i)
		}()
	}
	b.ResetTimer()
	close(start)
	wg.Wait()
	b.StopTimer()
}

// --- mpmc ---

const (
	producers   = 8
	consumers   = 8
	mpmcBufSize = 16
)

// mpmc: producer j sends the numbers 0 to its share of the ops, less one;
// the consumers add up what they receive. In the warm-up each producer
// sends and each consumer receives warmOps values; in the timed phase the
// last producer done closes the channel, and the consumers receive until
// it is closed.
func mpmc(r *rig, ops int, raw bool) func() error {
	c := task.NewChan[int]("mpmc", mpmcBufSize)
	var sum, received int
	sending := producers
	closeIfLast := func() {
		if sending--; sending == 0 {
			if err := c.Close(); err != nil {
				panic(err)
			}
		}
	}
	for j := range producers {
		share := share(ops, producers, j)
		if raw {
			p := &producerStep{phases: r.phases(warmOps, share), c: c, closeIfLast: closeIfLast}
			r.s.GoStep(fmt.Sprint("producer ", j), p.step)
			continue
		}
		r.gen(fmt.Sprint("producer ", j), warmOps, share, func(t *task.Task, k int, timed bool) {
			for i := range k {
				if err := c.Send(t, i); err != nil {
					panic(err)
				}
			}
			if timed {
				closeIfLast()
			}
		})
	}
	for j := range consumers {
		if raw {
			p := &consumerStep{phases: r.phases(warmOps, -1), c: c, sum: &sum, received: &received}
			r.s.GoStep(fmt.Sprint("consumer ", j), p.step)
			continue
		}
		r.gen(fmt.Sprint("consumer ", j), warmOps, -1, func(t *task.Task, k int, _ bool) {
			for i := 0; i != k; i++ {
				v, err := c.Recv(t)
				if err == task.ErrChanClosed {
					return
				}
				if err != nil {
					panic(err)
				}
				sum += v
				received++
			}
		})
	}
	return func() error {
		want := producers * triangle(warmOps)
		for j := range producers {
			want += triangle(share(ops, producers, j))
		}
		if n := producers*warmOps + ops; received != n || sum != want {
			return fmt.Errorf("mpmc: received %d values summing to %d, want %d summing to %d", received, sum, n, want)
		}
		return nil
	}
}

// share returns how many of total ops the i-th of n tasks does.
func share(total, n, i int) int {
	k := total / n
	if i < total%n {
		k++
	}
	return k
}

type producerStep struct {
	phases
	c           *task.Chan[int]
	closeIfLast func()
}

func (p *producerStep) step(t *task.Task) task.Status {
	for {
		if p.i == p.k {
			if p.phase == timed {
				p.closeIfLast()
			}
			if st, ret := p.next(t); ret {
				return st
			}
			continue
		}
		err := p.c.SendStep(t, p.i)
		if err == task.ErrAgain {
			return task.Yield
		}
		if err != nil {
			panic(err)
		}
		p.i++
	}
}

type consumerStep struct {
	phases
	c             *task.Chan[int]
	sum, received *int
}

func (p *consumerStep) step(t *task.Task) task.Status {
	for {
		if p.i == p.k {
			if st, ret := p.next(t); ret {
				return st
			}
			continue
		}
		v, err := p.c.RecvStep(t)
		switch err {
		case nil:
			*p.sum += v
			*p.received++
			p.i++
		case task.ErrAgain:
			return task.Yield
		case task.ErrChanClosed:
			p.k = p.i // the end of the timed phase
		default:
			panic(err)
		}
	}
}

func mpmcPeer(b *testing.B, ops int) {
	c := make(chan int, mpmcBufSize)
	var sending atomic.Int32
	sending.Store(producers)
	var sums, counts [consumers]int
	goroutines(b, producers+consumers, func(j int) {
		if j < producers {
			for i := range share(ops, producers, j) {
				c <- i
			}
			if sending.Add(-1) == 0 {
				close(c)
			}
			return
		}
		j -= producers
		for v := range c {
			sums[j] += v
			counts[j]++
		}
	})
	var sum, received, want int
	for j := range consumers {
		sum += sums[j]
		received += counts[j]
	}
	for j := range producers {
		want += triangle(share(ops, producers, j))
	}
	if received != ops || sum != want {
		b.Fatalf("mpmc: received %d values summing to %d, want %d summing to %d", received, sum, ops, want)
	}
}

// --- select ---

// selectTwo: feeder j sends the numbers 0 to its share of the ops, less one,
// on chans[j]; the selector receives from either, one value a Select.
func selectTwo(r *rig, ops int, raw bool) func() error {
	chans := [2]*task.Chan[int]{task.NewChan[int]("a", 0), task.NewChan[int]("b", 0)}
	var sum int
	for j := range 2 {
		share := share(ops, 2, j)
		if raw {
			p := &producerStep{phases: r.phases(warmOps, share), c: chans[j], closeIfLast: func() {}}
			r.s.GoStep(fmt.Sprint("feeder ", j), p.step)
			continue
		}
		r.gen(fmt.Sprint("feeder ", j), warmOps, share, func(t *task.Task, k int, _ bool) {
			for i := range k {
				if err := chans[j].Send(t, i); err != nil {
					panic(err)
				}
			}
		})
	}
	if raw {
		p := &selectorStep{phases: r.phases(2*warmOps, ops), chans: chans, sum: &sum}
		r.s.GoStep("selector", p.step)
	} else {
		var v int // the received value; declared once, as &v escapes
		r.gen("selector", 2*warmOps, ops, func(t *task.Task, k int, _ bool) {
			for range k {
				if _, err := task.Select(t, chans[0].RecvCase(&v), chans[1].RecvCase(&v)); err != nil {
					panic(err)
				}
				sum += v
			}
		})
	}
	return func() error {
		want := 2*triangle(warmOps) + triangle(share(ops, 2, 0)) + triangle(share(ops, 2, 1))
		if sum != want {
			return fmt.Errorf("select: received values summing to %d, want %d", sum, want)
		}
		return nil
	}
}

type selectorStep struct {
	phases
	chans [2]*task.Chan[int]
	v     int
	sum   *int
}

func (p *selectorStep) step(t *task.Task) task.Status {
	for {
		if p.i == p.k {
			if st, ret := p.next(t); ret {
				return st
			}
			continue
		}
		_, err := task.SelectStep(t, p.chans[0].RecvCase(&p.v), p.chans[1].RecvCase(&p.v))
		if err == task.ErrAgain {
			return task.Yield
		}
		if err != nil {
			panic(err)
		}
		*p.sum += p.v
		p.i++
	}
}

func selectPeer(b *testing.B, ops int) {
	chans := [2]chan int{make(chan int), make(chan int)}
	var sum int
	goroutines(b, 3, func(j int) {
		if j < 2 {
			for i := range share(ops, 2, j) {
				chans[j] <- i
			}
			return
		}
		var v int
		for range ops {
			select {
			case v = <-chans[0]:
			case v = <-chans[1]:
			}
			sum += v
		}
	})
	if want := triangle(share(ops, 2, 0)) + triangle(share(ops, 2, 1)); sum != want {
		b.Fatalf("select: received values summing to %d, want %d", sum, want)
	}
}

// --- semaphore ---

const takers = 4

// semaphore: takers tasks each acquire the permit of a Semaphore of 1, add
// one to a count and release it, their share of the ops times. A task
// whose release hands the permit on must wait for it at its next acquire,
// behind the others, so once every task waits for the permit each release
// hands it to the next task and each acquire waits: the tasks take turns,
// a hand-off an op. To get there, each task yields while it holds the
// permit the first time in a phase (the others come and wait meanwhile);
// without that, a task would acquire and release with no one waiting
// until its turn was spent, outside its critical section, and the permit
// would never be handed on.
func semaphore(r *rig, ops int, raw bool) func() error {
	sem := task.NewSemaphore("sem", 1)
	var count int
	for j := range takers {
		share := share(ops, takers, j)
		if raw {
			p := &takerStep{phases: r.phases(warmOps, share), sem: sem, count: &count}
			r.s.GoStep(fmt.Sprint("taker ", j), p.step)
			continue
		}
		r.gen(fmt.Sprint("taker ", j), warmOps, share, func(t *task.Task, k int, _ bool) {
			for n := range k {
				if err := sem.Acquire(t); err != nil {
					panic(err)
				}
				if n == 0 {
					t.Yield() // so that the others queue: see semaphore
				}
				count++
				if err := sem.Release(t); err != nil {
					panic(err)
				}
			}
		})
	}
	return func() error {
		if want := takers*warmOps + ops; count != want {
			return fmt.Errorf("semaphore: counted %d, want %d", count, want)
		}
		return nil
	}
}

type takerStep struct {
	phases
	sem     *task.Semaphore
	count   *int
	yielded int // the phase in which the task has yielded holding the permit, plus 1
}

func (p *takerStep) step(t *task.Task) task.Status {
	for {
		if p.i == p.k {
			if st, ret := p.next(t); ret {
				return st
			}
			continue
		}
		// Back from waiting, t holds the permit if it was handed one;
		// otherwise (its turn was spent) it asks again.
		if !t.Holds(p.sem) {
			err := p.sem.AcquireStep(t)
			if err == task.ErrAgain {
				return task.Yield
			}
			if err != nil {
				panic(err)
			}
		}
		if p.i == 0 && p.yielded != p.phase+1 {
			p.yielded = p.phase + 1
			return task.Yield // holding the permit: see semaphore
		}
		*p.count++
		if err := p.sem.Release(t); err != nil {
			panic(err)
		}
		p.i++
	}
}

func semaphorePeer(b *testing.B, ops int) {
	sem := make(chan struct{}, 1)
	var count int
	goroutines(b, takers, func(j int) {
		for n := range share(ops, takers, j) {
			sem <- struct{}{}
			if n == 0 {
				runtime.Gosched()
			}
			count++
			<-sem
		}
	})
	if count != ops {
		b.Fatalf("semaphore: counted %d, want %d", count, ops)
	}
}

// --- floor ---

// turns: op i is side i%2 handing the turn to the other side, which waits
// in its queue until it is its turn.
func turns(r *rig, ops int, raw bool) func() error {
	var qs [2]task.Queue
	turn, handed := 0, 0
	for side := range 2 {
		warm, share := warmOps, share(ops, 2, side)
		if raw {
			p := &turnStep{phases: r.phases(warm, share), qs: &qs, turn: &turn, handed: &handed, side: side}
			r.s.GoStep(fmt.Sprint("side ", side), p.step)
			continue
		}
		r.gen(fmt.Sprint("side ", side), warm, share, func(t *task.Task, k int, _ bool) {
			for range k {
				for turn != side {
					if err := t.Wait(&qs[side]); err != nil {
						panic(err)
					}
				}
				turn = 1 - side
				handed++
				qs[turn].Unblock()
			}
		})
	}
	return func() error {
		if want := 2*warmOps + ops; handed != want {
			return fmt.Errorf("floor: handed the turn %d times, want %d", handed, want)
		}
		return nil
	}
}

type turnStep struct {
	phases
	qs           *[2]task.Queue
	turn, handed *int
	side         int
}

func (p *turnStep) step(t *task.Task) task.Status {
	for {
		if p.i == p.k {
			if st, ret := p.next(t); ret {
				return st
			}
			continue
		}
		if *p.turn != p.side {
			if err := t.Block(&p.qs[p.side]); err != nil {
				panic(err)
			}
			return task.Yield
		}
		*p.turn = 1 - p.side
		*p.handed++
		p.qs[*p.turn].Unblock()
		p.i++
	}
}

// alone: one task yields ops times.
func alone(r *rig, ops int, raw bool) func() error {
	steps := 0
	if raw {
		p := &aloneStep{phases: r.phases(warmOps, ops), steps: &steps}
		r.s.GoStep("alone", p.step)
	} else {
		r.gen("alone", warmOps, ops, func(t *task.Task, k int, _ bool) {
			for range k {
				t.Yield()
				steps++
			}
		})
	}
	return func() error {
		if want := warmOps + ops; steps != want {
			return fmt.Errorf("turn: %d steps, want %d", steps, want)
		}
		return nil
	}
}

type aloneStep struct {
	phases
	steps *int
}

func (p *aloneStep) step(t *task.Task) task.Status {
	for p.i == p.k {
		if st, ret := p.next(t); ret {
			return st
		}
	}
	p.i++
	*p.steps++
	return task.Yield
}
