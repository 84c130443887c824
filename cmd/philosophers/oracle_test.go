package main

import (
	"fmt"
	"slices"
	"strings"
)

// oracle is the essay's program transcribed into Go as literally as Go
// allows: a slice for the ready list with the essay's O(n) unschedule, and
// each philosopher generator written out as a state machine whose next
// method runs it to its next yield. Its Utensil is the no-barging one that
// package utensil implements: release hands the utensil to the first
// waiter (owner = unblock(queue)), so no one can take it in between.
//
// It shares nothing with the real program but the seat type, so that a bug
// in the scheduler or the utensil shows up as a difference in traces.
//
// With a butler (-butler), each philosopher also takes one of the butler's
// N-1 permits before reaching for forks and gives it back after putting
// them down: a counting semaphore that, as the Utensil does, hands a
// permit given back straight to the first waiter.
type oracle struct {
	out       []string
	current   *generator
	readyList []*generator
}

type oracleSemaphore struct {
	free  int
	queue []*generator
}

type oracleUtensil struct {
	id    int
	owner *generator
	queue []*generator
}

// Program counters of a philosopher generator: where next resumes it.
const (
	pcLifeLoop  = iota // top of "for i in range(lifetime)"
	pcThinkLoop        // top of "for j in range(think_time)"
	pcAdmitted         // after "yield from butler.acquire()"
	pcReachLeft        // before "yield from left_fork.acquire()"
	pcGotLeft          // after "yield from left_fork.acquire()"
	pcGotRight         // after "yield from right_fork.acquire()"
	pcEatLoop          // top of "for j in range(eat_time)"
	pcStopped          // StopIteration raised
)

type generator struct {
	seat
	left, right *oracleUtensil
	butler      *oracleSemaphore // nil without one
	pc, i, j    int
}

// oracleDine runs the seats, with a butler if butler, and returns the
// trace and, in schedule order, the philosophers left blocked with what
// each waits for.
func oracleDine(nforks int, seats []seat, butler bool) (trace []string, blocked []string) {
	o := &oracle{}
	forks := make([]*oracleUtensil, nforks)
	for i := range forks {
		forks[i] = &oracleUtensil{id: i}
	}
	var sem *oracleSemaphore
	if butler {
		sem = &oracleSemaphore{free: max(len(seats)-1, 1)}
	}
	var gens []*generator
	for _, s := range seats {
		g := &generator{seat: s, left: forks[s.leftFork], right: forks[s.rightFork], butler: sem}
		gens = append(gens, g)
		o.schedule(g)
	}
	o.run()
	for _, g := range gens {
		for _, f := range forks {
			if slices.Contains(f.queue, g) {
				blocked = append(blocked, fmt.Sprintf("%s waiting for fork %d", g.name, f.id))
			}
		}
		if sem != nil && slices.Contains(sem.queue, g) {
			blocked = append(blocked, g.name+" waiting for butler")
		}
	}
	return o.out, blocked
}

func (o *oracle) schedule(g *generator) {
	o.readyList = append(o.readyList, g)
}

func (o *oracle) run() {
	for len(o.readyList) > 0 {
		g := o.readyList[0]
		o.current = g
		if stopped := !o.next(g); stopped {
			o.unschedule(g)
		} else {
			o.expireTimeslice(g)
		}
	}
}

func (o *oracle) expireTimeslice(g *generator) {
	if len(o.readyList) > 0 && o.readyList[0] == g {
		o.readyList = append(o.readyList[1:], g)
	}
}

func (o *oracle) unschedule(g *generator) {
	if i := slices.Index(o.readyList, g); i >= 0 {
		o.readyList = slices.Delete(o.readyList, i, i+1)
	}
}

func (o *oracle) block(queue *[]*generator) {
	*queue = append(*queue, o.current)
	o.unschedule(o.current)
}

func (o *oracle) unblock(queue *[]*generator) *generator {
	if len(*queue) > 0 {
		g := (*queue)[0]
		*queue = (*queue)[1:]
		o.schedule(g)
		return g
	}
	return nil
}

// acquire is the no-barging Utensil.acquire up to its yield: it reports
// whether the generator yields (blocked, to be resumed as the owner).
func (o *oracle) acquire(u *oracleUtensil) (yields bool) {
	if u.owner != nil {
		o.block(&u.queue)
		return true
	}
	u.owner = o.current
	return false
}

func (o *oracle) release(u *oracleUtensil) {
	u.owner = o.unblock(&u.queue)
}

// acquirePermit is the semaphore's acquire up to its yield: it reports
// whether the generator yields (blocked, to be resumed holding a permit).
// Those waiting come first.
func (o *oracle) acquirePermit(s *oracleSemaphore) (yields bool) {
	if s.free == 0 || len(s.queue) > 0 {
		o.block(&s.queue)
		return true
	}
	s.free--
	return false
}

// releasePermit hands the permit to the first waiter, or frees it.
func (o *oracle) releasePermit(s *oracleSemaphore) {
	if o.unblock(&s.queue) == nil {
		s.free++
	}
}

func (o *oracle) print(args ...any) {
	o.out = append(o.out, strings.TrimSuffix(fmt.Sprintln(args...), "\n"))
}

// next runs g's philosopher body to its next yield and reports true, or to
// its end and reports false (StopIteration).
func (o *oracle) next(g *generator) bool {
	for {
		switch g.pc {
		case pcLifeLoop:
			if g.i == g.lifetime {
				o.print(g.name, "leaving the table")
				g.pc = pcStopped
				return false
			}
			g.j = 0
			g.pc = pcThinkLoop
		case pcThinkLoop:
			if g.j < g.think {
				o.print(g.name, "thinking")
				g.j++
				return true
			}
			g.pc = pcReachLeft
			if g.butler != nil {
				o.print(g.name, "waiting for the butler")
				g.pc = pcAdmitted
				if o.acquirePermit(g.butler) {
					return true
				}
			}
		case pcAdmitted:
			o.print(g.name, "admitted by the butler")
			g.pc = pcReachLeft
		case pcReachLeft:
			o.print(g.name, "waiting for fork", g.left.id)
			g.pc = pcGotLeft
			if o.acquire(g.left) {
				return true
			}
		case pcGotLeft:
			o.print(g.name, "acquired fork", g.left.id)
			o.print(g.name, "waiting for fork", g.right.id)
			g.pc = pcGotRight
			if o.acquire(g.right) {
				return true
			}
		case pcGotRight:
			o.print(g.name, "acquired fork", g.right.id)
			g.j = 0
			g.pc = pcEatLoop
		case pcEatLoop:
			if g.j < g.eat {
				o.print(g.name, "eating spam")
				g.j++
				return true
			}
			o.print(g.name, "releasing forks", g.left.id, "and", g.right.id)
			o.release(g.left)
			o.release(g.right)
			if g.butler != nil {
				o.print(g.name, "thanking the butler")
				o.releasePermit(g.butler)
			}
			g.i++
			g.pc = pcLifeLoop
		default:
			panic("next of a finished generator")
		}
	}
}
