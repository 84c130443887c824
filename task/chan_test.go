package task_test

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/lwtask/lwtask/internal/tasktest"
	"github.com/lwtask/lwtask/scheduler"
	"github.com/lwtask/lwtask/task"
)

// The channel tests pin down exact orders wherever the scheduler makes them
// deterministic (no select, no timer), so that a change in who is woken,
// or when, shows up as a different trace rather than passing by luck.

// TestChanUnbufferedRendezvous checks that an unbuffered send waits until
// a receiver comes, whichever side arrives first, and that the value goes
// straight from one to the other.
func TestChanUnbufferedRendezvous(t *testing.T) {
	t.Run("sender first", func(t *testing.T) {
		s := scheduler.New()
		c := task.NewChan[string]("c", 0)
		var tr tasktest.Trace
		sender := s.Go("S", func(tk *task.Task) {
			tr.Printf("S sends")
			err := c.Send(tk, "hello")
			tr.Printf("S sent: %v", err)
		})
		s.Go("R", func(tk *task.Task) {
			tk.Yield()
			tk.Yield() // S has had two turns to give up waiting, if it were going to
			tr.Printf("R sees %v, len %d", sender.Info(), c.Len())
			v, err := c.Recv(tk)
			tr.Printf("R got %q %v", v, err)
			tk.Yield()
		})
		tasktest.Run(t, s)
		tr.Check(t,
			"S sends",
			"R sees S#1 blocked on c send, len 0",
			`R got "hello" <nil>`,
			"S sent: <nil>",
		)
	})
	t.Run("receiver first", func(t *testing.T) {
		s := scheduler.New()
		c := task.NewChan[string]("c", 0)
		var tr tasktest.Trace
		receiver := s.Go("R", func(tk *task.Task) {
			tr.Printf("R receives")
			v, err := c.Recv(tk)
			tr.Printf("R got %q %v", v, err)
		})
		s.Go("S", func(tk *task.Task) {
			tk.Yield()
			tr.Printf("S sees %v", receiver.Info())
			err := c.Send(tk, "hello")
			// The receiver was waiting: the send completes without waiting,
			// and the receiver runs only at its next turn.
			tr.Printf("S sent: %v, R %v", err, receiver.State())
		})
		tasktest.Run(t, s)
		tr.Check(t,
			"R receives",
			"S sees R#1 blocked on c receive",
			"S sent: <nil>, R ready",
			`R got "hello" <nil>`,
		)
	})
}

// TestChanBuffered checks that sends wait only while the buffer is full,
// that a receive refills the buffer from the first waiting sender at once,
// and that receives wait only while it is empty.
func TestChanBuffered(t *testing.T) {
	s := scheduler.New()
	c := task.NewChan[int]("c", 2)
	if c.Cap() != 2 || c.Len() != 0 {
		t.Fatalf("new channel: cap %d len %d", c.Cap(), c.Len())
	}
	var tr tasktest.Trace
	sender := s.Go("S", func(tk *task.Task) {
		for i := 1; i <= 4; i++ {
			err := c.Send(tk, i)
			tr.Printf("S sent %d: %v, len %d", i, err, c.Len())
		}
	})
	s.Go("R", func(tk *task.Task) {
		tr.Printf("R sees %v, len %d", sender.Info(), c.Len())
		for range 3 {
			v, err := c.Recv(tk)
			tr.Printf("R got %d %v, len %d, S %v", v, err, c.Len(), sender.State())
		}
		v, err := c.Recv(tk) // empty now: waits for S's 4
		tr.Printf("R got %d %v, len %d", v, err, c.Len())
	})
	tasktest.Run(t, s)
	tr.Check(t,
		"S sent 1: <nil>, len 1",
		"S sent 2: <nil>, len 2",
		"R sees S#1 blocked on c send, len 2",
		// S's 3 takes the freed slot as R receives 1: the buffer stays full.
		"R got 1 <nil>, len 2, S ready",
		"R got 2 <nil>, len 1, S ready",
		"R got 3 <nil>, len 0, S ready",
		"S sent 3: <nil>, len 0",
		"S sent 4: <nil>, len 0",
		"R got 4 <nil>, len 0",
	)
}

// TestChanTryNeverWaits checks TrySend and TryRecv in every state of a
// channel, from outside any task (they take none) and from inside one,
// where they must neither wait nor spend the task's turn.
func TestChanTryNeverWaits(t *testing.T) {
	u := task.NewChan[int]("u", 0)
	if ok, err := u.TrySend(1); ok || err != nil {
		t.Errorf("TrySend on an unbuffered channel with no receiver: %v %v", ok, err)
	}
	if v, ok, err := u.TryRecv(); ok || err != nil || v != 0 {
		t.Errorf("TryRecv on an unbuffered channel with no sender: %v %v %v", v, ok, err)
	}
	b := task.NewChan[int]("b", 1)
	if ok, err := b.TrySend(1); !ok || err != nil {
		t.Errorf("TrySend with room: %v %v", ok, err)
	}
	if ok, err := b.TrySend(2); ok || err != nil {
		t.Errorf("TrySend on a full channel: %v %v", ok, err)
	}
	if v, ok, err := b.TryRecv(); !ok || err != nil || v != 1 {
		t.Errorf("TryRecv of a buffered value: %v %v %v", v, ok, err)
	}
	if _, ok, err := b.TryRecv(); ok || err != nil {
		t.Errorf("TryRecv on an empty channel: %v %v", ok, err)
	}

	// With tasks waiting, Try hands over to them, in both directions: a
	// parked receiver is handed TrySend's value, a parked sender's value is
	// taken by TryRecv; and a thousand of each do not end the turn.
	s := scheduler.New()
	var tr tasktest.Trace
	s.Go("R", func(tk *task.Task) {
		v, err := u.Recv(tk)
		tr.Printf("R got %d %v", v, err)
	})
	s.Go("S", func(tk *task.Task) {
		tk.Yield() // after T's TrySend
		err := u.Send(tk, 8)
		tr.Printf("S sent: %v", err)
	})
	turns := 0
	s.Go("counter", func(tk *task.Task) {
		for range 4 {
			turns++
			tk.Yield()
		}
	})
	s.Go("T", func(tk *task.Task) {
		ok, err := u.TrySend(5)
		tr.Printf("T TrySend 5: %v %v", ok, err)
		tk.Yield() // S parks meanwhile
		v, ok, err := u.TryRecv()
		tr.Printf("T TryRecv: %d %v %v", v, ok, err)
		before := turns
		for range 1000 {
			if ok, err := b.TrySend(1); !ok || err != nil {
				tr.Printf("TrySend failed: %v %v", ok, err)
			}
			if _, ok, err := b.TryRecv(); !ok || err != nil {
				tr.Printf("TryRecv failed: %v %v", ok, err)
			}
		}
		tr.Printf("T: other turns during 2000 Try calls: %d", turns-before)
	})
	tasktest.Run(t, s)
	tr.Check(t,
		"T TrySend 5: true <nil>",
		"R got 5 <nil>",
		"T TryRecv: 8 true <nil>",
		"T: other turns during 2000 Try calls: 0",
		"S sent: <nil>",
	)

	// Closed: TrySend fails, TryRecv drains, then fails.
	b.TrySend(9)
	b.Close()
	if ok, err := b.TrySend(1); ok || err != task.ErrChanClosed {
		t.Errorf("TrySend on a closed channel: %v %v", ok, err)
	}
	if v, ok, err := b.TryRecv(); !ok || err != nil || v != 9 {
		t.Errorf("TryRecv of a value buffered before the close: %v %v %v", v, ok, err)
	}
	if v, ok, err := b.TryRecv(); ok || err != task.ErrChanClosed || v != 0 {
		t.Errorf("TryRecv on a closed, drained channel: %v %v %v", v, ok, err)
	}
}

// TestChanDeadlines checks SendUntil and RecvUntil: a deadline that passes
// fails the operation with ErrTimeout and leaves nothing behind (no value
// sent, no waiter left in the queue); an operation that can complete does
// so whatever its deadline; and the zero time means no deadline at all,
// which the task's state shows while it waits.
func TestChanDeadlines(t *testing.T) {
	s := scheduler.New()
	u := task.NewChan[int]("u", 0)
	b := task.NewChan[int]("b", 1)
	var tr tasktest.Trace
	soon := func() time.Time { return time.Now().Add(5 * time.Millisecond) }
	s.Go("A", func(tk *task.Task) {
		_, err := u.RecvUntil(tk, soon())
		tr.Printf("RecvUntil timed out: %v", errors.Is(err, task.ErrTimeout) && errors.Is(err, os.ErrDeadlineExceeded))
		ok, _ := u.TrySend(1) // would be handed to a stale receiver
		tr.Printf("receiver left behind: %v", ok)

		err = u.SendUntil(tk, 2, soon())
		tr.Printf("SendUntil timed out: %v", errors.Is(err, task.ErrTimeout))
		v, ok, _ := u.TryRecv() // would take the value from a stale sender
		tr.Printf("sender left behind: %v %d", ok, v)

		b.TrySend(3)
		err = b.SendUntil(tk, 4, soon())
		tr.Printf("SendUntil on a full channel: %v, len %d", errors.Is(err, task.ErrTimeout), b.Len())

		// Past deadlines do not stop what can be done at once.
		past := time.Now().Add(-time.Hour)
		v, err = b.RecvUntil(tk, past)
		tr.Printf("RecvUntil(past) with a value: %d %v", v, err)
		err = b.SendUntil(tk, 5, past)
		tr.Printf("SendUntil(past) with room: %v", err)
		_, err = u.RecvUntil(tk, past)
		tr.Printf("RecvUntil(past), nothing there: %v", errors.Is(err, task.ErrTimeout))
		v, _, _ = b.TryRecv()
		tr.Printf("b holds %d, len now %d", v, b.Len())
	})
	tasktest.Run(t, s)
	tr.Check(t,
		"RecvUntil timed out: true",
		"receiver left behind: false",
		"SendUntil timed out: true",
		"sender left behind: false 0",
		"SendUntil on a full channel: true, len 1",
		"RecvUntil(past) with a value: 3 <nil>",
		"SendUntil(past) with room: <nil>",
		"RecvUntil(past), nothing there: true",
		"b holds 5, len now 0",
	)

	// The zero time: no timer is set, so the wait outlasts any deadline it
	// might be mistaken for; a far deadline shows as one and is not hit.
	s = scheduler.New()
	tr = nil
	var r2, s1 *task.Task
	s.Go("R1", func(tk *task.Task) {
		v, err := u.RecvUntil(tk, time.Time{})
		tr.Printf("R1 got %d %v", v, err)
	})
	r2 = s.Go("R2", func(tk *task.Task) {
		v, err := b.RecvUntil(tk, time.Now().Add(time.Hour))
		tr.Printf("R2 got %d %v", v, err)
	})
	s1 = s.Go("S1", func(tk *task.Task) {
		err := u.SendUntil(tk, 6, time.Time{}) // R1 waits: no wait here
		tr.Printf("S1 sent: %v", err)
		err = u.SendUntil(tk, 7, time.Time{})
		tr.Printf("S1 sent: %v", err)
	})
	s.Go("W", func(tk *task.Task) {
		tr.Printf("W sees %v; %v", r2.Info(), s1.Info())
		tk.Sleep(20 * time.Millisecond) // longer than any deadline above
		b.Send(tk, 8)
		v, err := u.Recv(tk)
		tr.Printf("W got %d %v", v, err)
	})
	tasktest.Run(t, s)
	tr.Check(t,
		"S1 sent: <nil>",
		"W sees R2#2 blocked on b receive (with deadline); S1#3 blocked on u send",
		"R1 got 6 <nil>",
		"W got 7 <nil>",
		"R2 got 8 <nil>",
		"S1 sent: <nil>",
	)
}

// TestChanClose checks Close against Go's close: receivers drain what is
// buffered and then get ErrChanClosed; sends fail with it (where Go
// panics); a second Close fails with it; and every task waiting on the
// channel, sender or receiver, is woken, in the order it came.
func TestChanClose(t *testing.T) {
	t.Run("drain", func(t *testing.T) {
		s := scheduler.New()
		c := task.NewChan[int]("c", 3)
		var tr tasktest.Trace
		s.Go("A", func(tk *task.Task) {
			c.Send(tk, 1)
			c.Send(tk, 2)
			tr.Printf("close: %v, again: %v, closed %v", c.Close(), c.Close(), c.Closed())
			tr.Printf("send: %v", c.Send(tk, 3))
			for range 3 {
				v, err := c.Recv(tk)
				tr.Printf("recv %d %v", v, err)
			}
			v, ok, err := c.TryRecv()
			tr.Printf("try %d %v %v", v, ok, err)
		})
		tasktest.Run(t, s)
		tr.Check(t,
			"close: <nil>, again: channel closed, closed true",
			"send: channel closed",
			"recv 1 <nil>",
			"recv 2 <nil>",
			"recv 0 channel closed",
			"try 0 false channel closed",
		)
	})
	t.Run("wakes receivers and senders", func(t *testing.T) {
		s := scheduler.New()
		in := task.NewChan[int]("in", 0)
		out := task.NewChan[int]("out", 1)
		var tr tasktest.Trace
		for i := range 3 {
			s.Go(fmt.Sprint("R", i), func(tk *task.Task) {
				v, err := in.Recv(tk)
				tr.Printf("R%d: %d %v", i, v, err)
			})
		}
		out.TrySend(100) // full: the senders below wait
		for i := range 2 {
			s.Go(fmt.Sprint("S", i), func(tk *task.Task) {
				err := out.Send(tk, i)
				tr.Printf("S%d: %v", i, err)
			})
		}
		s.Go("closer", func(tk *task.Task) {
			tr.Printf("close in: %v, close out: %v", in.Close(), out.Close())
			tk.Yield()
			// The senders' values were not sent: only the one buffered
			// before the close is there.
			for range 2 {
				v, err := out.Recv(tk)
				tr.Printf("out: %d %v", v, err)
			}
		})
		tasktest.Run(t, s)
		tr.Check(t,
			"close in: <nil>, close out: <nil>",
			"R0: 0 channel closed",
			"R1: 0 channel closed",
			"R2: 0 channel closed",
			"S0: channel closed",
			"S1: channel closed",
			"out: 100 <nil>",
			"out: 0 channel closed",
		)
	})
}

// TestChanFIFO checks that waiting senders, and waiting receivers, are
// served in the order they came, on unbuffered and buffered channels, and
// with a select among them (a select's case keeps its place in line).
func TestChanFIFO(t *testing.T) {
	for _, capacity := range []int{0, 2} {
		t.Run(fmt.Sprintf("senders, cap %d", capacity), func(t *testing.T) {
			s := scheduler.New()
			c := task.NewChan[int]("c", capacity)
			other := task.NewChan[int]("other", 0)
			for i := range 6 {
				s.Go(fmt.Sprint("S", i), func(tk *task.Task) {
					var err error
					if i == 3 {
						var v int
						_, err = task.Select(tk, other.RecvCase(&v), c.SendCase(i))
					} else {
						err = c.Send(tk, i)
					}
					tasktest.Must(err)
				})
			}
			var got []int
			s.Go("R", func(tk *task.Task) {
				tk.Yield() // every sender has sent or parked
				for range 6 {
					v, err := c.Recv(tk)
					tasktest.Must(err)
					got = append(got, v)
				}
			})
			tasktest.Run(t, s)
			if want := []int{0, 1, 2, 3, 4, 5}; !slices.Equal(got, want) {
				t.Fatalf("received %v, want %v", got, want)
			}
		})
	}
	t.Run("receivers", func(t *testing.T) {
		s := scheduler.New()
		c := task.NewChan[int]("c", 1)
		other := task.NewChan[int]("other", 0)
		var tr tasktest.Trace
		for i := range 6 {
			s.Go(fmt.Sprint("R", i), func(tk *task.Task) {
				var v int
				var err error
				if i == 2 {
					_, err = task.Select(tk, other.RecvCase(&v), c.RecvCase(&v))
				} else {
					v, err = c.Recv(tk)
				}
				tr.Printf("R%d got %d %v", i, v, err)
			})
		}
		s.Go("S", func(tk *task.Task) {
			for i := range 6 {
				tasktest.Must(c.Send(tk, 10*i))
			}
		})
		tasktest.Run(t, s)
		tr.Check(t,
			"R0 got 0 <nil>",
			"R1 got 10 <nil>",
			"R2 got 20 <nil>",
			"R3 got 30 <nil>",
			"R4 got 40 <nil>",
			"R5 got 50 <nil>",
		)
	})
}

// TestChanAll checks the iterator: it yields every value until the channel
// is closed and drained, leaves *err nil for the close, stops when the
// loop breaks (taking nothing more), and reports another end of a receive.
func TestChanAll(t *testing.T) {
	s := scheduler.New()
	c := task.NewChan[int]("c", 0)
	d := task.NewChan[int]("d", 10)
	e := task.NewChan[int]("e", 0)
	boom := errors.New("boom")
	var all, some, third []int
	var allErr, thirdErr error
	s.Go("producer", func(tk *task.Task) {
		for i := range 5 {
			tasktest.Must(c.Send(tk, i))
		}
		c.Close()
	})
	s.Go("all", func(tk *task.Task) {
		for v := range c.All(tk, &allErr) {
			all = append(all, v)
		}
	})
	s.Go("some", func(tk *task.Task) {
		for i := range 10 {
			d.Send(tk, i)
		}
		for v := range d.All(tk, nil) {
			some = append(some, v)
			if v == 2 {
				break
			}
		}
	})
	consumer := s.Go("third", func(tk *task.Task) {
		for v := range e.All(tk, &thirdErr) {
			third = append(third, v)
		}
	})
	s.Go("waker", func(tk *task.Task) {
		e.Send(tk, 1)
		tk.Yield()
		consumer.Wake(boom)
	})
	tasktest.Run(t, s)
	if !slices.Equal(all, []int{0, 1, 2, 3, 4}) || allErr != nil {
		t.Errorf("All until close: %v, err %v", all, allErr)
	}
	if !slices.Equal(some, []int{0, 1, 2}) || d.Len() != 7 {
		t.Errorf("All with break: %v, %d left (want 7)", some, d.Len())
	}
	if !slices.Equal(third, []int{1}) || thirdErr != boom {
		t.Errorf("All ended by Wake(boom): %v, err %v", third, thirdErr)
	}
}

// TestChanStepForms checks SendStep and RecvStep, the raw step forms, with
// the ErrAgain protocol, talking over an unbuffered channel to a generator
// and to each other, and ending on a close.
func TestChanStepForms(t *testing.T) {
	const n = 20
	type side func(s *scheduler.Scheduler, c *task.Chan[int], got *[]int, again *int)
	rawSender := func(s *scheduler.Scheduler, c *task.Chan[int], _ *[]int, again *int) {
		i := 0
		s.GoStep("raw sender", func(tk *task.Task) task.Status {
			for i < n {
				switch err := c.SendStep(tk, i); err {
				case task.ErrAgain:
					*again++
					return task.Yield
				case nil:
					i++
				default:
					panic(err)
				}
			}
			c.Close()
			return task.Finish
		})
	}
	genSender := func(s *scheduler.Scheduler, c *task.Chan[int], _ *[]int, _ *int) {
		s.Go("sender", func(tk *task.Task) {
			for i := range n {
				tasktest.Must(c.Send(tk, i))
			}
			c.Close()
		})
	}
	rawReceiver := func(s *scheduler.Scheduler, c *task.Chan[int], got *[]int, again *int) {
		s.GoStep("raw receiver", func(tk *task.Task) task.Status {
			for {
				v, err := c.RecvStep(tk)
				switch err {
				case task.ErrAgain:
					*again++
					return task.Yield
				case task.ErrChanClosed:
					return task.Finish
				case nil:
					*got = append(*got, v)
				default:
					panic(err)
				}
			}
		})
	}
	genReceiver := func(s *scheduler.Scheduler, c *task.Chan[int], got *[]int, _ *int) {
		s.Go("receiver", func(tk *task.Task) {
			for v := range c.All(tk, nil) {
				*got = append(*got, v)
			}
		})
	}
	for _, tc := range []struct {
		name   string
		first  side
		second side
	}{
		{"raw sender, generator receiver", rawSender, genReceiver},
		{"generator sender, raw receiver", genSender, rawReceiver},
		{"raw sender, raw receiver", rawSender, rawReceiver},
		{"raw receiver first, raw sender", rawReceiver, rawSender},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, capacity := range []int{0, 3} {
				s := scheduler.New()
				c := task.NewChan[int]("c", capacity)
				var got []int
				again := 0
				tc.first(s, c, &got, &again)
				tc.second(s, c, &got, &again)
				tasktest.Run(t, s)
				if !slices.Equal(got, tasktest.Sequence(n, func(int) bool { return true })) {
					t.Errorf("cap %d: received %v", capacity, got)
				}
				if again == 0 {
					t.Errorf("cap %d: the raw side never had to wait", capacity)
				}
			}
		})
	}

	t.Run("closed", func(t *testing.T) {
		s := scheduler.New()
		c := task.NewChan[int]("c", 0)
		var tr tasktest.Trace
		phase := 0
		s.GoStep("raw", func(tk *task.Task) task.Status {
			switch phase {
			case 0:
				err := c.SendStep(tk, 1)
				tr.Printf("send: %v", err)
				if err == task.ErrAgain {
					phase = 1
					return task.Yield
				}
			case 1: // woken by the close: the send failed
				tr.Printf("send again: %v", c.SendStep(tk, 1))
				_, err := c.RecvStep(tk)
				tr.Printf("recv on closed: %v", err)
				tr.Printf("send on closed: %v", c.SendStep(tk, 2))
			}
			return task.Finish
		})
		s.Go("closer", func(tk *task.Task) {
			tr.Printf("close: %v", c.Close())
		})
		tasktest.Run(t, s)
		tr.Check(t,
			"send: operation would suspend the task: return Yield and try again",
			"close: <nil>",
			"send again: channel closed",
			"recv on closed: channel closed",
			"send on closed: channel closed",
		)
	})

	// Send and Recv return the error a Wake gave them; the step forms,
	// called again, must report it too rather than wait again.
	t.Run("woken", func(t *testing.T) {
		s := scheduler.New()
		c := task.NewChan[int]("c", 0)
		boom := errors.New("boom")
		var errs []error
		recv := true
		raw := s.GoStep("raw", func(tk *task.Task) task.Status {
			var err error
			if recv {
				_, err = c.RecvStep(tk)
			} else {
				err = c.SendStep(tk, 1)
			}
			if err == task.ErrAgain {
				return task.Yield
			}
			errs = append(errs, err)
			if recv {
				recv = false
				return task.Yield
			}
			return task.Finish
		})
		s.Go("waker", func(tk *task.Task) {
			for range 4 { // each wake should end one wait
				raw.Wake(boom)
				tk.Yield()
			}
		})
		if err := tasktest.RunBounded(s, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if len(errs) != 2 || errs[0] != boom || errs[1] != boom {
			t.Fatalf("RecvStep, then SendStep, woken by Wake(boom): %v", errs)
		}
	})
}

// TestChanKill checks that killing a task parked in Send or Recv (either
// style, or in a Select) takes its waiter out of the channel's queue, so
// that the next operation neither hands a value to the dead task nor takes
// one from it, and that no value is lost or made up.
func TestChanKill(t *testing.T) {
	for _, tc := range []struct {
		name string
		// park starts a task that parks on c, unbuffered or full.
		park func(s *scheduler.Scheduler, c *task.Chan[int]) *task.Task
		recv bool // it parks receiving
	}{
		{"Recv", func(s *scheduler.Scheduler, c *task.Chan[int]) *task.Task {
			return s.Go("victim", func(tk *task.Task) { c.Recv(tk) })
		}, true},
		{"Send", func(s *scheduler.Scheduler, c *task.Chan[int]) *task.Task {
			return s.Go("victim", func(tk *task.Task) { c.Send(tk, -1) })
		}, false},
		{"RecvStep", func(s *scheduler.Scheduler, c *task.Chan[int]) *task.Task {
			return s.GoStep("victim", func(tk *task.Task) task.Status {
				if _, err := c.RecvStep(tk); err == task.ErrAgain {
					return task.Yield
				}
				return task.Finish
			})
		}, true},
		{"SendStep", func(s *scheduler.Scheduler, c *task.Chan[int]) *task.Task {
			return s.GoStep("victim", func(tk *task.Task) task.Status {
				if err := c.SendStep(tk, -1); err == task.ErrAgain {
					return task.Yield
				}
				return task.Finish
			})
		}, false},
		{"Select recv", func(s *scheduler.Scheduler, c *task.Chan[int]) *task.Task {
			return s.Go("victim", func(tk *task.Task) {
				var v int
				task.Select(tk, c.RecvCase(&v), task.NewChan[int]("x", 0).RecvCase(&v))
			})
		}, true},
		{"Select send", func(s *scheduler.Scheduler, c *task.Chan[int]) *task.Task {
			return s.Go("victim", func(tk *task.Task) {
				task.Select(tk, task.NewChan[int]("x", 0).SendCase(-2), c.SendCase(-1))
			})
		}, false},
	} {
		for _, capacity := range []int{0, 1} {
			if tc.recv && capacity > 0 {
				continue // an empty buffered channel is the same as an unbuffered one
			}
			t.Run(fmt.Sprintf("%s cap %d", tc.name, capacity), func(t *testing.T) {
				s := scheduler.New()
				c := task.NewChan[int]("c", capacity)
				if capacity > 0 {
					c.TrySend(10) // full: the victim's send waits
				}
				victim := tc.park(s, c)
				var tr tasktest.Trace
				s.Go("killer", func(tk *task.Task) {
					tr.Printf("victim %v", victim.State())
					s.Kill(victim)
					tr.Printf("victim %v", victim.State())
					if tc.recv {
						ok, _ := c.TrySend(1)
						tr.Printf("TrySend handed to the dead: %v", ok)
						return
					}
					for {
						v, ok, _ := c.TryRecv()
						if !ok {
							break
						}
						tr.Printf("TryRecv: %d", v) // only the value buffered before
					}
				})
				// After the kill the channel works for the living.
				var got int
				s.Go("receiver", func(tk *task.Task) {
					tk.Yield()
					got, _ = c.Recv(tk)
				})
				s.Go("sender", func(tk *task.Task) {
					tk.Yield()
					c.Send(tk, 2)
				})
				tasktest.Run(t, s)
				if tc.recv {
					tr.Check(t, "victim blocked", "victim done", "TrySend handed to the dead: false")
				} else if capacity > 0 {
					tr.Check(t, "victim blocked", "victim done", "TryRecv: 10")
				} else {
					tr.Check(t, "victim blocked", "victim done")
				}
				if got != 2 {
					t.Errorf("the living receiver got %d, want 2", got)
				}
			})
		}
	}

	// Killed after its wait was satisfied but before it ran: a sender's
	// value has gone to the receiver, a receiver's goes back to the
	// channel, and the channel's records are given back exactly once, so
	// that it works on for the living.
	for _, tc := range []struct {
		name string
		park func(s *scheduler.Scheduler, c *task.Chan[int]) *task.Task
		recv bool
	}{
		{"Send", func(s *scheduler.Scheduler, c *task.Chan[int]) *task.Task {
			return s.Go("victim", func(tk *task.Task) { c.Send(tk, 1) })
		}, false},
		{"Select send first", func(s *scheduler.Scheduler, c *task.Chan[int]) *task.Task {
			return s.Go("victim", func(tk *task.Task) {
				task.Select(tk, c.SendCase(1), task.NewChan[int]("x", 0).SendCase(-2))
			})
		}, false},
		{"Select send second", func(s *scheduler.Scheduler, c *task.Chan[int]) *task.Task {
			return s.Go("victim", func(tk *task.Task) {
				var v int
				task.Select(tk, task.NewChan[int]("never", 0).RecvCase(&v), c.SendCase(1))
			})
		}, false},
		{"Recv", func(s *scheduler.Scheduler, c *task.Chan[int]) *task.Task {
			return s.Go("victim", func(tk *task.Task) { c.Recv(tk) })
		}, true},
		{"Select recv second", func(s *scheduler.Scheduler, c *task.Chan[int]) *task.Task {
			return s.Go("victim", func(tk *task.Task) {
				var v int
				task.Select(tk, task.NewChan[int]("never", 0).RecvCase(&v), c.RecvCase(&v))
			})
		}, true},
	} {
		t.Run("fired then killed: "+tc.name, func(t *testing.T) {
			s := scheduler.New()
			c := task.NewChan[int]("c", 0)
			victim := tc.park(s, c)
			var tr tasktest.Trace
			s.Go("killer", func(tk *task.Task) {
				if tc.recv {
					ok, err := c.TrySend(1)
					tr.Printf("TrySend: %v %v", ok, err)
				} else {
					v, ok, err := c.TryRecv()
					tr.Printf("TryRecv: %d %v %v", v, ok, err)
				}
				s.Kill(victim)
				if tc.recv { // the value handed to the dead is the channel's again
					v, err := c.Recv(tk)
					tr.Printf("Recv after the kill: %d %v", v, err)
				}
			})
			// Both senders wait, each in a record of its own, before the
			// receivers come.
			for i := range 2 {
				s.Go("sender", func(tk *task.Task) { c.Send(tk, 10+i) })
			}
			for range 2 {
				s.Go("receiver", func(tk *task.Task) {
					tk.Yield()
					v, err := c.Recv(tk)
					tr.Printf("received %d %v", v, err)
				})
			}
			tasktest.Run(t, s)
			first := "TryRecv: 1 true <nil>"
			if tc.recv {
				first = "TrySend: true <nil>"
			}
			want := []string{first}
			if tc.recv {
				want = append(want, "Recv after the kill: 1 <nil>")
			}
			tr.Check(t, append(want, "received 10 <nil>", "received 11 <nil>")...)
		})
	}

	// A killed task's deferred calls may use the channel, but not wait.
	t.Run("deferred", func(t *testing.T) {
		s := scheduler.New()
		c := task.NewChan[int]("c", 1)
		var tr tasktest.Trace
		victim := s.Go("victim", func(tk *task.Task) {
			defer func() {
				tr.Printf("deferred TrySend: %v", fmt.Sprint(c.TrySend(5)))
				tr.Printf("deferred Send: %v", c.Send(tk, 6)) // full: would wait
				v, err := c.Recv(tk)
				tr.Printf("deferred Recv: %d %v", v, err) // need not wait
				_, err = c.Recv(tk)
				tr.Printf("deferred Recv: %v", err) // empty: would wait
			}()
			tk.Sleep(time.Hour)
		})
		s.Go("killer", func(tk *task.Task) { s.Kill(victim) })
		tasktest.Run(t, s)
		tr.Check(t,
			"deferred TrySend: true <nil>",
			"deferred Send: task killed",
			"deferred Recv: 5 <nil>",
			"deferred Recv: task killed",
		)
	})

	// A sender whose value was taken, killed before it runs again: the
	// value was delivered once, and that is all.
	t.Run("sender handed off", func(t *testing.T) {
		s := scheduler.New()
		c := task.NewChan[int]("c", 0)
		victim := s.Go("victim", func(tk *task.Task) { c.Send(tk, 1) })
		var got []int
		s.Go("taker", func(tk *task.Task) {
			v, ok, _ := c.TryRecv()
			if ok {
				got = append(got, v)
			}
			s.Kill(victim)
			if v, ok, _ := c.TryRecv(); ok {
				got = append(got, v)
			}
		})
		tasktest.Run(t, s)
		if !slices.Equal(got, []int{1}) {
			t.Errorf("received %v, want [1]", got)
		}
	})

	// A receiver handed a value and killed before it runs again.
	t.Run("receiver handed off", func(t *testing.T) {
		s := scheduler.New()
		c := task.NewChan[int]("c", 0)
		victim := s.Go("victim", func(tk *task.Task) { c.Recv(tk) })
		var got []int
		s.Go("giver", func(tk *task.Task) {
			tk.Yield()
			c.TrySend(1)
			s.Kill(victim)
		})
		s.Go("heir", func(tk *task.Task) {
			tk.Yield()
			tk.Yield()
			if v, err := c.RecvUntil(tk, time.Now().Add(10*time.Millisecond)); err == nil {
				got = append(got, v)
			}
		})
		tasktest.Run(t, s)
		if !slices.Equal(got, []int{1}) {
			t.Errorf("the value handed to the killed receiver: %v reached another receiver, want [1]", got)
		}
	})
}

// TestChanBudget checks that channel operations which never wait still
// count against the task's turn: a task doing them in a loop yields every
// Budget of them, so another task gets its turns in between. Try forms take
// no task and do not count.
func TestChanBudget(t *testing.T) {
	const turns = 4
	ops := map[string]func(tk *task.Task, c *task.Chan[int], done *int){
		"Send/Recv": func(tk *task.Task, c *task.Chan[int], done *int) {
			for i := range turns * task.Budget / 2 {
				tasktest.Must(c.Send(tk, i))
				*done++
				_, err := c.Recv(tk)
				tasktest.Must(err)
				*done++
			}
		},
		"Select": func(tk *task.Task, c *task.Chan[int], done *int) {
			var v int
			for i := range turns * task.Budget / 2 {
				task.Select(tk, c.SendCase(i))
				*done++
				task.Select(tk, c.RecvCase(&v))
				*done++
			}
		},
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			s := scheduler.New()
			c := task.NewChan[int]("c", 1)
			done := 0
			busy := s.Go("busy", func(tk *task.Task) { op(tk, c, &done) })
			var seen []int
			s.Go("other", func(tk *task.Task) {
				for !busy.Done() {
					seen = append(seen, done)
					tk.Yield()
				}
			})
			tasktest.Run(t, s)
			want := []int{task.Budget, 2 * task.Budget, 3 * task.Budget}
			if !slices.Equal(seen, want) {
				t.Errorf("operations done by the busy task at each of the other's turns: %v, want %v", seen, want)
			}
		})
	}

	// A raw step's SendStep, RecvStep and SelectStep say ErrAgain, without
	// doing anything, once the turn's budget is spent.
	t.Run("step forms", func(t *testing.T) {
		s := scheduler.New()
		c := task.NewChan[int]("c", 1000)
		var perTurn []int
		sent, received, selected := 0, 0, 0
		s.GoStep("raw", func(tk *task.Task) task.Status {
			n := 0
			for {
				var err error
				switch {
				case sent < 100:
					if err = c.SendStep(tk, sent); err == nil {
						sent++
					}
				case received < 100:
					if _, err = c.RecvStep(tk); err == nil {
						received++
					}
				case selected < 100:
					if _, err = task.SelectStep(tk, c.SendCase(1)); err == nil {
						selected++
					}
				default:
					perTurn = append(perTurn, n)
					return task.Finish
				}
				if err == task.ErrAgain {
					perTurn = append(perTurn, n)
					return task.Yield
				}
				n++
			}
		})
		tasktest.Run(t, s)
		want := []int{task.Budget, task.Budget, task.Budget, task.Budget, 300 - 4*task.Budget}
		if !slices.Equal(perTurn, want) || c.Len() != 100 {
			t.Errorf("operations per turn %v, want %v; %d left in c, want 100", perTurn, want, c.Len())
		}
	})
}
