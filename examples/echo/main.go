// Command echo is the select echo server of "select – Wait for I/O
// Efficiently", and its client that talks to it over two sockets at once,
// written as lwtask tasks.
//
// The server in one window, the client in another:
//
//	go run ./examples/echo -serve -addr 127.0.0.1:10000
//	go run ./examples/echo -addr 127.0.0.1:10000
//
// or both in one process, their output interleaved:
//
//	go run ./examples/echo -demo
//
// An address with port 0, such as -addr 127.0.0.1:0, has the server pick a
// free port, which it prints. -demo does so unless given -addr: its client
// is told where the server is, so the port need not be free.
//
// The select version keeps a list of sockets to read, a list to write and
// a queue of outgoing messages per socket, and turns them around in one
// loop. Here the listener is a task, and so is each connection: it reads
// data and sends it back, written as if it had a thread to itself, while
// the scheduler's wait for events keeps those lists.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/lwtask/lwtask"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("echo", flag.ContinueOnError)
	flags.SetOutput(stderr)
	addr := flags.String("addr", "127.0.0.1:10000", "`host:port` to serve on or connect to (-demo: a free port)")
	serve := flags.Bool("serve", false, "run the server, until interrupted")
	demo := flags.Bool("demo", false, "run the server and the client in one process")
	if err := flags.Parse(args); err != nil || flags.NArg() > 0 {
		return 2
	}
	if *demo && !isSet(flags, "addr") {
		// The demo's client learns the port from its listener, so any
		// will do; the default one may be busy.
		*addr = "127.0.0.1:0"
	}
	rt, err := lwtask.New()
	if err == nil {
		defer rt.Close()
		switch {
		case *serve:
			err = runServer(rt, *addr, stdout)
		case *demo:
			err = runDemo(rt, *addr, stdout)
		default:
			err = runClient(rt, *addr, stdout)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "echo:", err)
		return 1
	}
	return 0
}

// isSet reports whether the flag name was given.
func isSet(flags *flag.FlagSet, name string) bool {
	set := false
	flags.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// runServer serves until SIGINT or SIGTERM.
func runServer(rt *lwtask.Runtime, addr string, out io.Writer) error {
	l, err := listen(rt, addr, out)
	if err != nil {
		return err
	}
	defer l.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rt.Go("listener", func(t *lwtask.Task) { listener(t, rt, l, out) })
	return rt.RunContext(ctx)
}

func runClient(rt *lwtask.Runtime, addr string, out io.Writer) error {
	var err error
	rt.Go("client", func(t *lwtask.Task) { err = client(t, rt, addr, out) })
	if runErr := rt.Run(); runErr != nil {
		return runErr
	}
	return err
}

// runDemo runs the server and the client as tasks of one scheduler, on one
// goroutine. Once the client is done it closes the listener, which ends the
// listener task; the connections' tasks end as the client hangs up, and
// with no task left Run returns.
func runDemo(rt *lwtask.Runtime, addr string, out io.Writer) error {
	l, err := listen(rt, addr, out)
	if err != nil {
		return err
	}
	rt.Go("listener", func(t *lwtask.Task) { listener(t, rt, l, out) })
	rt.Go("client", func(t *lwtask.Task) {
		err = client(t, rt, l.Addr().String(), out)
		l.Close()
	})
	if runErr := rt.Run(); runErr != nil {
		return runErr
	}
	return err
}

// listen is the seed's set-up: a listening socket, its address announced.
// Port 0 picks a free port, which the announcement tells.
func listen(rt *lwtask.Runtime, addr string, out io.Writer) (*lwtask.Listener, error) {
	l, err := rt.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(l.Addr().String())
	fmt.Fprintf(out, "starting up on %s port %s\n", host, port)
	return l, nil
}
