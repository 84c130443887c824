package scheduler_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"go.uber.org/goleak"

	"github.com/lwtask/lwtask/internal/tasktest"
	"github.com/lwtask/lwtask/scheduler"
	"github.com/lwtask/lwtask/task"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The essay's first example, line for line.
var essayPeople = []struct {
	name  string
	count int
}{{"John", 2}, {"Michael", 3}, {"Terry", 4}}

var essayPeopleTrace = []string{
	"John running",
	"Michael running",
	"Terry running",
	"John running",
	"Michael running",
	"Terry running",
	"Michael running",
	"Terry running",
	"Terry running",
}

// person is the essay's person generator.
func person(tr *tasktest.Trace, name string, count int) func(*task.Task) {
	return func(t *task.Task) {
		for range count {
			tr.Printf("%s running", name)
			t.Yield()
		}
	}
}

// personStep is the same person as a state machine: the raw step style.
type personStep struct {
	tr   *tasktest.Trace
	name string
	left int
}

func (p *personStep) step(*task.Task) task.Status {
	if p.left == 0 {
		return task.Finish
	}
	p.left--
	p.tr.Printf("%s running", p.name)
	return task.Yield
}

func TestEssayPeople(t *testing.T) {
	for _, style := range []string{"generator", "step", "mixed"} {
		t.Run(style, func(t *testing.T) {
			s := scheduler.New()
			var tr tasktest.Trace
			for i, p := range essayPeople {
				if style == "generator" || style == "mixed" && i%2 == 0 {
					s.Go(p.name, person(&tr, p.name, p.count))
				} else {
					s.GoStep(p.name, (&personStep{&tr, p.name, p.count}).step)
				}
			}
			tasktest.Run(t, s)
			tr.Check(t, essayPeopleTrace...)
		})
	}
}

// TestEssayOrder checks each rule of the essay's ready list: the head runs;
// if still at the head it goes to the tail; a finished task leaves; Block
// sends the running task to the tail of a queue and Unblock moves a queue's
// head to the tail of the ready list.
func TestEssayOrder(t *testing.T) {
	s := scheduler.New()
	var tr tasktest.Trace
	var q task.Queue
	s.Go("A", func(t *task.Task) {
		tr.Printf("A blocks")
		t.Wait(&q) // A leaves the ready list: [B C]
		tr.Printf("A woken")
	})
	s.Go("B", func(t *task.Task) {
		tr.Printf("B 1")
		t.Yield() // [C B]
		tr.Printf("B unblocks %v", q.Unblock().Name())
		t.Yield() // [C A B]: A joined the tail behind C, then B rotated
		tr.Printf("B 3")
	})
	s.Go("C", func(t *task.Task) {
		tr.Printf("C 1")
		t.Yield()
		tr.Printf("C 2")
		// C finishes: [A B]
	})
	tasktest.Run(t, s)
	tr.Check(t, "A blocks", "B 1", "C 1", "B unblocks A", "C 2", "A woken", "B 3")
}

// TestWaitQueueFIFO blocks three tasks on one queue and checks that Unblock
// releases them in the order they blocked, each to the ready list's tail.
func TestWaitQueueFIFO(t *testing.T) {
	s := scheduler.New()
	var tr tasktest.Trace
	q := task.Queue{Label: "door"}
	for _, name := range []string{"A", "B", "C"} {
		s.Go(name, func(t *task.Task) {
			t.Wait(&q)
			tr.Printf("%s through", name)
		})
	}
	s.Go("porter", func(t *task.Task) {
		if q.Len() != 3 {
			panic(fmt.Sprintf("%d waiting at the door, want 3", q.Len()))
		}
		for q.Len() > 0 {
			tr.Printf("porter opens for %s", q.Unblock().Name())
		}
		if q.Unblock() != nil {
			panic("Unblock of an empty queue returned a task")
		}
	})
	tasktest.Run(t, s)
	tr.Check(t, "porter opens for A", "porter opens for B", "porter opens for C",
		"A through", "B through", "C through")
}

func TestExpireTimeslice(t *testing.T) {
	s := scheduler.New()
	var tr tasktest.Trace
	var a, c *task.Task
	a = s.Go("A", func(t *task.Task) {
		s.ExpireTimeslice(c) // not at the head: nothing happens
		s.ExpireTimeslice(a) // at the head: to the tail, so B is next
		tr.Printf("A 1")
		t.Yield()
		tr.Printf("A 2")
	})
	s.Go("B", func(t *task.Task) {
		tr.Printf("B 1")
		t.Yield()
		tr.Printf("B 2")
	})
	c = s.Go("C", func(t *task.Task) {
		tr.Printf("C 1")
		t.Yield()
		tr.Printf("C 2")
	})
	// From outside Run, too: A goes behind C.
	s.ExpireTimeslice(a)
	tasktest.Run(t, s)
	tr.Check(t, "B 1", "C 1", "A 1", "B 2", "C 2", "A 2")
}

func TestScheduleEdgeCases(t *testing.T) {
	s := scheduler.New()
	var tr tasktest.Trace
	var q task.Queue
	var b *task.Task
	a := s.GoStep("A", func(t *task.Task) task.Status {
		tr.Printf("A")
		return task.Finish
	})
	s.Schedule(a) // already ready: no second entry
	b = s.Go("B", func(t *task.Task) {
		s.Unschedule(t)
		s.Schedule(t) // running, and back at the tail: B runs again after C
		tr.Printf("B 1")
		t.Yield()
		tr.Printf("B 2")
		t.Wait(&q)
	})
	s.Go("C", func(tk *task.Task) {
		tr.Printf("C 1")
		tk.Yield()
		tr.Printf("C 2")
		tk.Yield()
		tasktest.MustPanic(t, "blocked", func() { s.Schedule(b) })
		tr.Printf("C frees %s", q.Unblock().Name())
	})
	tasktest.Run(t, s)
	tr.Check(t, "A", "B 1", "C 1", "B 2", "C 2", "C frees B")
	if a.ID() != 1 || b.ID() != 2 {
		t.Fatalf("IDs %d, %d: want 1, 2 in order of scheduling", a.ID(), b.ID())
	}
	tasktest.MustPanic(t, "finished", func() { s.Schedule(a) })
}

// TestScheduleSleeping checks that a task sleeping on a timer cannot be put
// on the ready list as well, where its timer would later push it again.
func TestScheduleSleeping(t *testing.T) {
	s := scheduler.New()
	sleeper := s.Go("sleeper", func(t *task.Task) { t.Sleep(0) })
	s.Go("meddler", func(*task.Task) {
		tasktest.MustPanic(t, "sleeper#1", func() { s.Schedule(sleeper) })
	})
	tasktest.Run(t, s)
}

func TestScheduleOtherScheduler(t *testing.T) {
	s1, s2 := scheduler.New(), scheduler.New()
	x := s1.GoStep("x", func(*task.Task) task.Status { return task.Finish })
	s1.Unschedule(x)
	tasktest.MustPanic(t, "another scheduler", func() { s2.Schedule(x) })
	tasktest.Run(t, s1)
	tasktest.Run(t, s2)
}

func TestUnscheduleEdgeCases(t *testing.T) {
	s := scheduler.New()
	var tr tasktest.Trace
	var b, c *task.Task
	s.Go("A", func(t *task.Task) {
		s.Unschedule(b) // ready: B is skipped until scheduled again
		s.Unschedule(b) // idle: nothing to do
		tr.Printf("A 1")
		t.Yield()
		tr.Printf("A 2")
		s.Schedule(b) // back, at the tail behind C
		t.Yield()
		tr.Printf("A 3")
		s.Unschedule(c) // done: nothing to do
	})
	b = s.Go("B", func(t *task.Task) { tr.Printf("B") })
	c = s.Go("C", func(t *task.Task) {
		tr.Printf("C 1")
		t.Yield()
		tr.Printf("C 2")
	})
	tasktest.Run(t, s)
	tr.Check(t, "A 1", "C 1", "A 2", "C 2", "B", "A 3")
}

// TestUnscheduleLast leaves only idle tasks: Run returns nil and ends them.
func TestUnscheduleLast(t *testing.T) {
	s := scheduler.New()
	unwound := false
	x := s.Go("loner", func(t *task.Task) {
		defer func() { unwound = true }()
		s.Unschedule(t)
		t.Yield()
		panic("an unscheduled task ran again")
	})
	tasktest.Run(t, s)
	if !x.Done() || !unwound {
		t.Fatalf("idle task: done %v, deferred calls ran %v", x.Done(), unwound)
	}
}

// TestAgainstModel runs random programs of raw step tasks that yield,
// block, unblock, expire their timeslice, unschedule and schedule each
// other, and checks the order of steps against a literal model of the
// essay's ready list, a slice with O(n) removal.
func TestAgainstModel(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for i := range 300 {
		p := randomProgram(r)
		want, wantBlocked := p.model()
		got, gotBlocked := p.real(t)
		if !slices.Equal(got, want) || !slices.Equal(gotBlocked, wantBlocked) {
			t.Fatalf("program %d (%v):\nsteps   %v, blocked %v\nmodel   %v, blocked %v",
				i, p, got, gotBlocked, want, wantBlocked)
		}
	}
}

type opKind uint8

const (
	opYield opKind = iota
	opBlock
	opUnblock
	opExpire
	opUnschedule
	opSchedule
	opFinish
)

// op is what a task does in one step; arg is a queue or a task index.
type op struct {
	kind opKind
	arg  int
}

type program struct {
	nqueues int
	scripts [][]op // the steps of each task; its last step finishes
}

func randomProgram(r *rand.Rand) program {
	p := program{nqueues: 1 + r.IntN(3)}
	ntasks := 1 + r.IntN(6)
	for range ntasks {
		var script []op
		for range r.IntN(8) {
			k := opKind(r.IntN(int(opFinish)))
			arg := r.IntN(p.nqueues)
			if k == opUnschedule || k == opSchedule {
				arg = r.IntN(ntasks)
			}
			script = append(script, op{k, arg})
		}
		p.scripts = append(p.scripts, append(script, op{kind: opFinish}))
	}
	return p
}

// model runs p on the essay's scheduler, transcribed: it returns the index
// of the task run at each step and, sorted, the tasks left blocked.
func (p program) model() (steps, blocked []int) {
	ready := make([]int, len(p.scripts))
	for i := range ready {
		ready[i] = i
	}
	queues := make([][]int, p.nqueues)
	pc := make([]int, len(p.scripts))
	done := make([]bool, len(p.scripts))
	remove := func(g int) {
		if i := slices.Index(ready, g); i >= 0 {
			ready = slices.Delete(ready, i, i+1)
		}
	}
	idle := func(g int) bool {
		if done[g] || slices.Contains(ready, g) {
			return false
		}
		for _, q := range queues {
			if slices.Contains(q, g) {
				return false
			}
		}
		return true
	}
	for len(ready) > 0 {
		g := ready[0]
		steps = append(steps, g)
		o := p.scripts[g][pc[g]]
		pc[g]++
		switch o.kind {
		case opBlock:
			queues[o.arg] = append(queues[o.arg], g)
			remove(g)
		case opUnblock:
			if q := queues[o.arg]; len(q) > 0 {
				queues[o.arg] = q[1:]
				ready = append(ready, q[0])
			}
		case opExpire:
			if ready[0] == g {
				ready = append(ready[1:], g)
			}
		case opUnschedule:
			remove(o.arg)
		case opSchedule:
			if idle(o.arg) {
				ready = append(ready, o.arg)
			}
		case opFinish:
			remove(g)
			done[g] = true
			continue
		}
		if len(ready) > 0 && ready[0] == g { // expire_timeslice
			ready = append(ready[1:], g)
		}
	}
	for _, q := range queues {
		blocked = append(blocked, q...)
	}
	slices.Sort(blocked)
	return steps, blocked
}

// real runs p on the scheduler.
func (p program) real(t *testing.T) (steps, blocked []int) {
	s := scheduler.New()
	queues := make([]task.Queue, p.nqueues)
	for i := range queues {
		queues[i].Label = fmt.Sprint("q", i)
	}
	tasks := make([]*task.Task, len(p.scripts))
	for i, script := range p.scripts {
		pc := 0
		tasks[i] = s.GoStep(fmt.Sprint(i), func(t *task.Task) task.Status {
			steps = append(steps, i)
			o := script[pc]
			pc++
			switch o.kind {
			case opBlock:
				t.Block(&queues[o.arg])
			case opUnblock:
				queues[o.arg].Unblock()
			case opExpire:
				s.ExpireTimeslice(t)
			case opUnschedule:
				s.Unschedule(tasks[o.arg])
			case opSchedule:
				if x := tasks[o.arg]; x.State() == task.Idle {
					s.Schedule(x)
				}
			case opFinish:
				return task.Finish
			}
			return task.Yield
		})
	}
	err := s.Run()
	if err != nil {
		dl, ok := err.(*scheduler.DeadlockError)
		if !ok {
			t.Fatalf("Run: %v", err)
		}
		for _, info := range dl.Blocked {
			blocked = append(blocked, int(info.ID-1))
		}
	}
	return steps, blocked
}
