package lwtask_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"time"

	"github.com/lwtask/lwtask"
)

// exampleRuntime is lwtask.New for examples, which have no error to return.
func exampleRuntime(opts ...lwtask.Option) *lwtask.Runtime {
	rt, err := lwtask.New(opts...)
	if err != nil {
		panic(err)
	}
	return rt
}

// One task writes a pipe, another reads it line by line: the essay's
// sock_readline. ReadLine parks the reader while the pipe is empty, takes
// "\r\n" as well as "\n", and returns a last line that has no line ending.
func ExampleConn_ReadLine() {
	rt := exampleRuntime()
	defer rt.Close()
	rd, wr, err := rt.Pipe()
	if err != nil {
		panic(err)
	}
	rt.Go("reader", func(t *lwtask.Task) {
		in := lwtask.NewConn(rd)
		defer in.Close()
		for {
			line, err := in.ReadLine(t)
			if err == io.EOF {
				fmt.Println("reader: EOF")
				return
			}
			if err != nil {
				fmt.Println("reader:", err)
				return
			}
			fmt.Printf("reader: %q\n", line)
		}
	})
	rt.Go("writer", func(t *lwtask.Task) {
		defer wr.Close() // the reader sees EOF
		wr.Write(t, []byte("SPAM 3\r\nSPAM 1\n"))
		wr.Write(t, []byte("no line ending"))
	})
	if err := rt.Run(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// reader: "SPAM 3"
	// reader: "SPAM 1"
	// reader: "no line ending"
	// reader: EOF
}

// An echo server and its client, both tasks on one goroutine. The server's
// replies are gathered in the connection's buffer and go out when ReadLine
// parks for the next request; the client's Flush is likewise implied by its
// ReadLine.
func ExampleRuntime_Listen() {
	rt := exampleRuntime()
	defer rt.Close()
	l, err := rt.Listen("tcp", "127.0.0.1:0") // port 0: any free port
	if err != nil {
		panic(err)
	}
	rt.Go("server", func(t *lwtask.Task) {
		defer l.Close()
		c, err := l.Accept(t)
		if err != nil {
			fmt.Println("server:", err)
			return
		}
		defer c.Close()
		for {
			line, err := c.ReadLine(t)
			if err != nil { // io.EOF once the client has gone
				return
			}
			c.WriteString(t, "echo: ")
			c.Write(t, line)
			c.WriteString(t, "\n")
		}
	})
	rt.Go("client", func(t *lwtask.Task) {
		c, err := rt.Dial(t, "tcp", l.Addr().String())
		if err != nil {
			fmt.Println("client:", err)
			return
		}
		defer c.Close()
		c.WriteString(t, "SPAM 3\n")
		reply, err := c.ReadLine(t)
		if err != nil {
			fmt.Println("client:", err)
			return
		}
		fmt.Printf("client: %s\n", reply)
	})
	if err := rt.Run(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// client: echo: SPAM 3
}

// A read deadline bounds how long a read may park. The error names the
// operation and the descriptor, and errors.Is finds ErrTimeout in it.
func ExampleFile_SetReadDeadline() {
	rt := exampleRuntime()
	defer rt.Close()
	rd, wr, err := rt.Pipe()
	if err != nil {
		panic(err)
	}
	rt.Go("reader", func(t *lwtask.Task) {
		defer rd.Close()
		defer wr.Close()
		rd.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		_, err := rd.Read(t, make([]byte, 16)) // nobody writes
		fmt.Println(err)
		fmt.Println(errors.Is(err, lwtask.ErrTimeout))
	})
	if err := rt.Run(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// read pipe: i/o timeout
	// true
}

// The poller backend is chosen by name; without WithPoller the runtime
// takes the best the system has (epoll on Linux, kqueue on macOS and the
// BSDs).
func ExampleWithPoller() {
	rt := exampleRuntime(lwtask.WithPoller("poll"))
	defer rt.Close()
	fmt.Println(rt.Poller())

	_, err := lwtask.New(lwtask.WithPoller("no such poller"))
	fmt.Println(err != nil)
	// Output:
	// poll
	// true
}

// A subprocess whose standard input and output are connections: one task
// feeds it, another reads its answer and waits for it to exit.
func ExampleRuntime_StartCommand() {
	rt := exampleRuntime()
	defer rt.Close()
	p, err := rt.StartCommand(exec.Command("tr", "a-z", "A-Z"))
	if err != nil {
		panic(err)
	}
	rt.Go("feeder", func(t *lwtask.Task) {
		defer p.Stdin.Close() // tr reads to EOF
		p.Stdin.WriteString(t, "spam glorious spam\n")
		p.Stdin.Flush(t)
	})
	rt.Go("reader", func(t *lwtask.Task) {
		defer p.Stdout.Close()
		for {
			line, err := p.Stdout.ReadLine(t)
			if err != nil {
				break
			}
			fmt.Printf("%s\n", line)
		}
		fmt.Println("exit:", p.Wait(t))
	})
	if err := rt.Run(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// SPAM GLORIOUS SPAM
	// exit: <nil>
}

// Work done on another goroutine comes back to the tasks through Post,
// which runs a function on the scheduler's goroutine between steps. Hold
// keeps Run waiting for the post: without it, Run would find nothing left
// to do and return at once.
func ExampleRuntime_Post() {
	rt := exampleRuntime()
	defer rt.Close()
	release := rt.Hold()
	done := make(chan struct{})
	go func() {
		defer close(done)
		answer := 6 * 7 // say, a blocking call the tasks must not wait for
		rt.Post(func() {
			release()
			rt.Go("reporter", func(t *lwtask.Task) { fmt.Println("the answer is", answer) })
		})
	}()
	if err := rt.Run(); err != nil {
		fmt.Println(err)
	}
	<-done
	// Output:
	// the answer is 42
}

// RunContext stops Run when a context is done, as the spam server does on
// SIGINT. Tasks still waiting are ended, running their deferred calls, so
// the listener below is closed.
func ExampleRuntime_RunContext() {
	rt := exampleRuntime()
	defer rt.Close()
	l, err := rt.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	rt.Go("listener", func(t *lwtask.Task) {
		defer fmt.Println("listener: closed")
		defer l.Close()
		for {
			c, err := l.Accept(t) // nobody connects
			if err != nil {
				return
			}
			c.Close()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	fmt.Println("Run:", rt.RunContext(ctx))
	// Output:
	// listener: closed
	// Run: <nil>
}
