package lwtask_test

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/lwtask/lwtask"
	"github.com/lwtask/lwtask/internal/tasktest"
)

// Work posted to a Runtime from other goroutines, some of which panics,
// on every poller backend: a panic loses no other posted function and
// changes nothing in their order, and never leaves Run waiting.

func explodingPost() { panic("posted bomb") }

// TestPostPanics has 4 goroutines post 10,000 functions each while two
// tasks play ping-pong over pipes. One posted function in 1,000 panics,
// under a panic handler: every other one runs exactly once, in the order
// its goroutine posted it, and the handler sees exactly the panicking
// ones, named "(scheduler)", in their order too.
func TestPostPanics(t *testing.T) {
	const (
		goroutines = 4
		perG       = 10_000
		total      = goroutines * perG
		every      = 1000
	)
	bomb := func(i int) bool { return i%every == every-1 }
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		ran := make([][]int, goroutines) // written on the runtime's goroutine only
		panicked := make([][]int, goroutines)
		var handlerErr error
		rt.SetPanicHandler(func(p *lwtask.PanicError) {
			var g, i int
			if _, err := fmt.Sscanf(fmt.Sprint(p.Value), "post %d/%d", &g, &i); err != nil || p.Name != "(scheduler)" || p.ID != 0 {
				handlerErr = errors.Join(handlerErr, fmt.Errorf("unexpected panic %s#%d: %v", p.Name, p.ID, p.Value))
				return
			}
			panicked[g] = append(panicked[g], i)
		})
		calls := 0
		done := func() bool { return calls == total }

		// Two tasks keep the descriptors busy meanwhile.
		aR, aW := newPipe(t, rt)
		bR, bW := newPipe(t, rt)
		rounds := 0
		start := make(chan struct{})
		rt.Go("ping", func(tk *lwtask.Task) {
			close(start)
			defer aW.Close()
			buf := make([]byte, 1)
			for !done() {
				if _, err := aW.Write(tk, []byte("p")); err != nil {
					t.Error(err)
					return
				}
				if _, err := bR.Read(tk, buf); err != nil {
					t.Error(err)
					return
				}
				rounds++
			}
		})
		rt.Go("pong", func(tk *lwtask.Task) {
			buf := make([]byte, 1)
			for {
				if _, err := aR.Read(tk, buf); err != nil {
					if err != io.EOF {
						t.Error(err)
					}
					return
				}
				if _, err := bW.Write(tk, buf); err != nil {
					t.Error(err)
					return
				}
			}
		})

		wait := tasktest.PostConcurrently(goroutines, perG, start, rt.Post, func(g, i int) {
			calls++
			if bomb(i) {
				panic(fmt.Sprintf("post %d/%d", g, i))
			}
			ran[g] = append(ran[g], i)
		})
		err := runBounded(rt)
		if err := wait(); err != nil {
			t.Fatalf("Post: %v", err)
		}
		if err != nil {
			t.Fatalf("Run: %v; %d of %d posted functions called", err, calls, total)
		}
		if handlerErr != nil {
			t.Error(handlerErr)
		}
		wantRan := tasktest.Sequence(perG, func(i int) bool { return !bomb(i) })
		wantPanicked := tasktest.Sequence(perG, bomb)
		for g := range goroutines {
			if !slices.Equal(ran[g], wantRan) {
				t.Errorf("goroutine %d: %d of its %d functions ran, or out of order", g, len(ran[g]), len(wantRan))
			}
			if !slices.Equal(panicked[g], wantPanicked) {
				t.Errorf("goroutine %d: handler saw panics %v, want %v", g, panicked[g], wantPanicked)
			}
		}
		if rounds == 0 {
			t.Error("the ping-pong tasks made no round while the functions were posted")
		}
	})
}

// TestPostPanicDefaultPolicy: with no handler, a posted function's panic
// ends Run with a *PanicError named "(scheduler)", and the functions
// posted after it in the same batch still run, in order, as Run returns.
func TestPostPanicDefaultPolicy(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		rd, _ := newPipe(t, rt)
		var got []string
		rt.Go("reader", func(tk *lwtask.Task) {
			defer func() { got = append(got, "reader ended") }()
			for _, f := range []func(){
				func() { got = append(got, "a") },
				explodingPost,
				func() { got = append(got, "b") },
			} {
				if err := rt.Post(f); err != nil {
					t.Error(err)
				}
			}
			rd.Read(tk, make([]byte, 1)) // parked until Run ends it
		})
		err := runBounded(rt)
		var p *lwtask.PanicError
		if !errors.As(err, &p) || p.Name != "(scheduler)" || p.Value != "posted bomb" || !strings.Contains(string(p.Stack), "explodingPost") {
			t.Fatalf("Run: %.300v, want the posted function's *PanicError", err)
		}
		if want := []string{"a", "b", "reader ended"}; !slices.Equal(got, want) {
			t.Fatalf("ran %q, want %q", got, want)
		}
	})
}

// TestPostPanicReleasesHold is process reaping's case with a task parked
// on a descriptor, which makes Run poll the descriptors between turns: a
// posted function that panics comes first in a batch, and the one after
// it releases a Hold and closes the pipe the task waits on. Run must run
// it, not wait for a descriptor that will never be ready.
func TestPostPanicReleasesHold(t *testing.T) {
	eachPoller(t, func(t *testing.T, rt *lwtask.Runtime) {
		var caught []string
		rt.SetPanicHandler(func(p *lwtask.PanicError) { caught = append(caught, fmt.Sprint(p.Name, ": ", p.Value)) })
		rd, _ := newPipe(t, rt)
		var readErr error
		rt.Go("reader", func(tk *lwtask.Task) { _, readErr = rd.Read(tk, make([]byte, 1)) })
		rt.Go("reaper", func(tk *lwtask.Task) {
			release := rt.Hold()
			rt.Post(explodingPost)
			rt.Post(func() {
				release()
				rd.Close()
			})
		})
		if err := runBounded(rt); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if !errors.Is(readErr, lwtask.ErrClosed) || !slices.Equal(caught, []string{"(scheduler): posted bomb"}) {
			t.Fatalf("reader woke with %v; handler saw %q", readErr, caught)
		}
	})
}
