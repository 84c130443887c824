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
type oracle struct {
	out       []string
	current   *generator
	readyList []*generator
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
	pcGotLeft          // after "yield from left_fork.acquire()"
	pcGotRight         // after "yield from right_fork.acquire()"
	pcEatLoop          // top of "for j in range(eat_time)"
	pcStopped          // StopIteration raised
)

type generator struct {
	seat
	left, right *oracleUtensil
	pc, i, j    int
}

// oracleDine runs the seats and returns the trace and, in schedule order,
// the philosophers left blocked with the fork each waits for.
func oracleDine(nforks int, seats []seat) (trace []string, blocked []string) {
	o := &oracle{}
	forks := make([]*oracleUtensil, nforks)
	for i := range forks {
		forks[i] = &oracleUtensil{id: i}
	}
	var gens []*generator
	for _, s := range seats {
		g := &generator{seat: s, left: forks[s.leftFork], right: forks[s.rightFork]}
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
			g.i++
			g.pc = pcLifeLoop
		default:
			panic("next of a finished generator")
		}
	}
}
