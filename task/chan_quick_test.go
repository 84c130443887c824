package task_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lwtask/lwtask/scheduler"
	"github.com/lwtask/lwtask/task"
)

func TestQuickChan(t *testing.T) {
	s := scheduler.New()
	ch := task.NewChan[int]("c", 0)
	var got []int
	s.Go("prod", func(tk *task.Task) {
		for i := range 5 {
			if err := ch.Send(tk, i); err != nil {
				t.Error(err)
			}
		}
		ch.Close()
	})
	s.Go("cons", func(tk *task.Task) {
		for v := range ch.All(tk, nil) {
			got = append(got, v)
		}
	})
	if err := s.Run(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[0 1 2 3 4]" {
		t.Fatal(got)
	}
}

func TestQuickSelect(t *testing.T) {
	s := scheduler.New()
	a := task.NewChan[string]("a", 1)
	b := task.NewChan[string]("b", 0)
	var got []string
	s.Go("sel", func(tk *task.Task) {
		var v string
		for range 3 {
			i, err := task.Select(tk, a.RecvCase(&v), b.RecvCase(&v), task.After(50*time.Millisecond))
			got = append(got, fmt.Sprintf("%d %s %v", i, v, err))
		}
	})
	s.Go("send", func(tk *task.Task) {
		b.Send(tk, "B")
		a.Send(tk, "A")
	})
	if err := s.Run(); err != nil {
		t.Fatal(err)
	}
	t.Log(got)
	if len(got) != 3 || got[2] != "2 A <nil>" && got[2] != "2 B <nil>" {
		t.Fatal(got)
	}
}

func TestQuickGroup(t *testing.T) {
	s := scheduler.New()
	boom := errors.New("boom")
	var werr error
	var cancelled []error
	s.Go("parent", func(tk *task.Task) {
		g := task.NewGroup(tk)
		for i := range 3 {
			g.Go(fmt.Sprint("c", i), func(c *task.Task) error {
				err := c.Sleep(time.Hour)
				cancelled = append(cancelled, err)
				return err
			})
		}
		g.Go("bad", func(c *task.Task) error { c.Yield(); return boom })
		werr = g.Wait(tk)
	})
	if err := s.Run(); err != nil {
		t.Fatal(err)
	}
	if werr != boom || len(cancelled) != 3 {
		t.Fatal(werr, cancelled)
	}
	for _, e := range cancelled {
		if !errors.Is(e, context.Canceled) || !errors.Is(e, boom) {
			t.Fatal(e)
		}
	}
}

func TestQuickMoveOn(t *testing.T) {
	s := scheduler.New()
	var r1, r2 error
	s.Go("p", func(tk *task.Task) {
		r1 = tk.MoveOnAfter(10*time.Millisecond, func() error { return tk.Sleep(time.Hour) })
		r2 = tk.FailAfter(10*time.Millisecond, func() error { return tk.Sleep(time.Hour) })
	})
	if err := s.Run(); err != nil {
		t.Fatal(err)
	}
	if r1 != nil || !errors.Is(r2, task.ErrTimeout) || !errors.Is(r2, context.DeadlineExceeded) {
		t.Fatal(r1, r2)
	}
}
