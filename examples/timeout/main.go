// Command timeout is the echo server of "select – Wait for I/O
// Efficiently" that does other work whenever select times out, and the
// seed's slow client, which pauses after connecting and after each message.
//
// The server in one window, the slow client in another:
//
//	go run ./examples/timeout -serve -addr 127.0.0.1:10000
//	go run ./examples/timeout -addr 127.0.0.1:10000
//
// or both in one process:
//
//	go run ./examples/timeout -demo
//
// -timeout sets how long the server waits before it does other work (1s;
// it must be positive), and -pause how long the client pauses (1.5s). An
// address with port 0, such as -addr 127.0.0.1:0, has the server pick a
// free port.
//
// The seed has one select loop, which times out only when no socket at all
// is ready. Here each task waits with its own deadline: the listener for
// its next connection, and each connection for its next data. While one
// waits, the others run; when its deadline passes, it does its other work
// and waits again. In -demo the slow client is a task too, and its pauses
// are t.Sleep: they let the server run, on the same goroutine.
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
	"time"

	"github.com/lwtask/lwtask"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("timeout", flag.ContinueOnError)
	flags.SetOutput(stderr)
	addr := flags.String("addr", "127.0.0.1:10000", "`host:port` to serve on or connect to (-demo: a free port)")
	serve := flags.Bool("serve", false, "run the server, until interrupted")
	demo := flags.Bool("demo", false, "run the server and the slow client in one process")
	timeout := flags.Duration("timeout", time.Second, "how long the server waits before it does other work")
	pause := flags.Duration("pause", 1500*time.Millisecond, "how long the client pauses")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	switch {
	case flags.NArg() > 0:
		fmt.Fprintf(stderr, "timeout: unexpected argument %q\n", flags.Arg(0))
		return 2
	case *timeout <= 0: // a deadline already passed: the server would spin
		fmt.Fprintln(stderr, "timeout: -timeout must be positive")
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
		s := &server{rt: rt, out: stdout, timeout: *timeout}
		switch {
		case *serve:
			err = runServer(s, *addr)
		case *demo:
			err = runDemo(s, *addr, *pause)
		default:
			err = runClient(rt, *addr, *pause, stdout)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "timeout:", err)
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
func runServer(s *server, addr string) error {
	l, err := s.listen(addr)
	if err != nil {
		return err
	}
	defer l.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s.rt.Go("listener", func(t *lwtask.Task) { s.listener(t, l) })
	err = s.rt.RunContext(ctx)
	s.report()
	return err
}

func runClient(rt *lwtask.Runtime, addr string, pause time.Duration, out io.Writer) error {
	var err error
	rt.Go("slow client", func(t *lwtask.Task) { err = slowClient(t, rt, addr, pause, out) })
	if runErr := rt.Run(); runErr != nil {
		return runErr
	}
	return err
}

// runDemo runs the server and the slow client as tasks of one scheduler.
// Once the client is done it closes the listener, which ends the listener
// task, and Run returns when the connection's task has seen the client
// hang up.
func runDemo(s *server, addr string, pause time.Duration) error {
	l, err := s.listen(addr)
	if err != nil {
		return err
	}
	s.rt.Go("listener", func(t *lwtask.Task) { s.listener(t, l) })
	client := prefixWriter{s.out, "client: "} // its "sending" is not the server's
	s.rt.Go("slow client", func(t *lwtask.Task) {
		err = slowClient(t, s.rt, l.Addr().String(), pause, client)
		l.Close()
	})
	if runErr := s.rt.Run(); runErr != nil {
		return runErr
	}
	s.report()
	return err
}

// splitAddr splits host:port for printing as the seed does.
func splitAddr(addr string) (host, port string) {
	host, port, _ = net.SplitHostPort(addr)
	return host, port
}

// prefixWriter starts every write with prefix: a line, for the client, which
// prints each line with one call.
type prefixWriter struct {
	w      io.Writer
	prefix string
}

func (p prefixWriter) Write(b []byte) (int, error) {
	if _, err := io.WriteString(p.w, p.prefix+string(b)); err != nil {
		return 0, err
	}
	return len(b), nil
}
