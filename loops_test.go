package lwtask_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lwtask/lwtask"
)

// TestLoopsSpread runs two loops serving one address: the connections are
// spread over both (SO_REUSEPORT where the kernel shares them out, round
// robin from loop 0 elsewhere), every one is served, and each loop runs on
// an OS thread of its own, the same one for its whole life.
func TestLoopsSpread(t *testing.T) {
	for _, mode := range []string{"generator", "step", "generator/round robin", "step/round robin"} {
		t.Run(mode, func(t *testing.T) {
			style, robin := strings.CutSuffix(mode, "/round robin")
			if robin {
				defer lwtask.SetReusePort(false)()
			}
			loops, err := lwtask.NewLoops(2)
			if err != nil {
				t.Fatal(err)
			}
			defer loops.Close()
			var mu sync.Mutex
			served := map[int]int{}  // connections served by each loop
			threads := map[int]int{} // loop -> the thread it ran on
			loopOf := map[*lwtask.Runtime]int{loops.Loop(0): 0, loops.Loop(1): 1}
			note := func(rt *lwtask.Runtime) {
				mu.Lock()
				defer mu.Unlock()
				i := loopOf[rt]
				served[i]++
				tid := gettid()
				if old, ok := threads[i]; ok && old != tid {
					t.Errorf("loop %d ran on thread %d, then %d", i, old, tid)
				}
				threads[i] = tid
			}
			var addr net.Addr
			if style == "step" {
				addr, err = loops.ListenAndServeSteps("tcp", "127.0.0.1:0", func(c *lwtask.Conn) lwtask.StepHandler {
					return &echoLine{note: note, rt: loopOfConn(loops, c)}
				})
			} else {
				addr, err = loops.ListenAndServe("tcp", "127.0.0.1:0", func(tk *lwtask.Task, c *lwtask.Conn) {
					defer c.Close()
					for i := range loops.Len() {
						if loops.Loop(i).Owns(tk) {
							note(loops.Loop(i))
						}
					}
					line, err := c.ReadLine(tk)
					if err == nil {
						c.WriteString(tk, string(line)+"\n")
						c.Flush(tk)
					}
				})
			}
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- loops.Run() }()
			const clients = 64
			var wg sync.WaitGroup
			for i := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := net.Dial("tcp", addr.String())
					if err != nil {
						t.Error(err)
						return
					}
					defer c.Close()
					fmt.Fprintf(c, "hello %d\n", i)
					got, err := bufio.NewReader(c).ReadString('\n')
					if want := fmt.Sprintf("hello %d\n", i); err != nil || got != want {
						t.Errorf("client %d read %q, %v", i, got, err)
					}
				}()
			}
			wg.Wait()
			loops.Stop()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			// The loops have stopped: so has listening.
			if c, err := net.Dial("tcp", addr.String()); err == nil {
				c.Close()
				t.Errorf("%s still accepts connections once Run has returned", addr)
			}
			if served[0]+served[1] != clients || served[0] == 0 || served[1] == 0 {
				t.Fatalf("connections served by the loops: %v, want all %d, on both", served, clients)
			}
			if tid := gettid(); tid != 0 && threads[0] == threads[1] {
				t.Fatalf("both loops ran on thread %d", threads[0])
			}
		})
	}
}

// echoLine is a StepHandler that sends back the first line and ends.
type echoLine struct {
	note func(*lwtask.Runtime)
	rt   *lwtask.Runtime
}

func (e *echoLine) Serve(c *lwtask.Conn, in []byte, eof bool) (int, error) {
	for i, b := range in {
		if b == '\n' {
			e.note(e.rt)
			c.Append(in[:i+1])
			return i + 1, errors.New("done") // one line is all
		}
	}
	return 0, nil
}

// loopOfConn finds the loop whose Runtime made c (a StepHandler is given
// only the Conn).
func loopOfConn(loops *lwtask.Loops, c *lwtask.Conn) *lwtask.Runtime {
	for i := range loops.Len() {
		if c.Runtime() == loops.Loop(i) {
			return loops.Loop(i)
		}
	}
	return nil
}

// TestLoopsPanic: a task's panic, under the default policy, ends every
// loop, and Run returns it.
func TestLoopsPanic(t *testing.T) {
	loops, err := lwtask.NewLoops(2)
	if err != nil {
		t.Fatal(err)
	}
	defer loops.Close()
	release := loops.Loop(1).Hold() // keeps loop 1 running until stopped
	_ = release
	loops.Loop(0).Go("bomb", func(*lwtask.Task) { panic("boom") })
	var pe *lwtask.PanicError
	if err := loops.Run(); !errors.As(err, &pe) || pe.Value != "boom" {
		t.Fatalf("Run: %v, want the panic", err)
	}
}

// TestLoopsRunContext: RunContext stops every loop when its context is
// done, and the tasks' contexts derive from it, on every loop.
func TestLoopsRunContext(t *testing.T) {
	loops, err := lwtask.NewLoops(2)
	if err != nil {
		t.Fatal(err)
	}
	defer loops.Close()
	type key struct{}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "base"))
	values := make([]any, loops.Len())
	var read sync.WaitGroup
	read.Add(loops.Len())
	go func() { read.Wait(); cancel() }() // once every loop's task has looked
	for i := range loops.Len() {
		loops.Loop(i).Go("waiter", func(tk *lwtask.Task) {
			values[i] = tk.Context().Value(key{})
			read.Done()
			tk.Sleep(time.Hour) // until the loops stop
		})
	}
	if err := loops.RunContext(ctx); err != nil {
		t.Fatal(err)
	}
	for i, v := range values {
		if v != "base" {
			t.Errorf("loop %d: the task's context holds %v, want the value of RunContext's", i, v)
		}
	}
}
