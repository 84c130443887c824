package task

import (
	"fmt"
	"strconv"
	"time"
)

// State is where a task is in its life.
type State uint8

const (
	Idle    State = iota // not in the ready list and waiting for nothing: new, or unscheduled
	Ready                // in the ready list
	Running              // its code is running
	Blocked              // waiting in a queue, or sleeping until a deadline
	Done                 // finished or ended
)

var stateNames = [...]string{"idle", "ready", "running", "blocked", "done"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// State returns t's state.
func (t *Task) State() State { return State(t.core().State()) }

// Info is a snapshot of a task, for task tables and error reports.
type Info struct {
	ID         uint64
	Name       string
	State      State
	WaitingFor string        // what a blocked task waits for: its queues' labels, or "sleep"
	Waited     time.Duration // how long a blocked task has waited, to the run loop's turn
}

// Info returns a snapshot of t.
func (t *Task) Info() Info {
	c := t.core()
	return Info{ID: c.ID(), Name: c.Name(), State: t.State(), WaitingFor: c.WaitingFor(), Waited: c.Waited()}
}

func (i Info) String() string {
	s := fmt.Sprintf("%s#%d %s", i.Name, i.ID, i.State)
	if i.WaitingFor != "" {
		s += " on " + i.WaitingFor
		if i.Waited > 0 {
			s += " for " + i.Waited.Round(time.Millisecond).String()
		}
	}
	return s
}

// PanicError reports a panic in a task: the task, the value and the stack
// of the goroutine that panicked.
type PanicError struct {
	ID    uint64
	Name  string
	Value any
	Stack []byte
}

func (p *PanicError) Error() string {
	return fmt.Sprintf("task %s#%d panicked: %v\n\n%s", p.Name, p.ID, p.Value, p.Stack)
}

// Unwrap returns the panic value if it is an error.
func (p *PanicError) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}
