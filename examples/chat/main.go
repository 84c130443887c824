// Command chat is a chat server for telnet, on lwtask: everything a member
// types goes to everyone else in the room.
//
//	go run ./examples/chat -addr 127.0.0.1:4201
//
// and, in as many other windows as you like:
//
//	telnet 127.0.0.1 4201
//
// The server asks each newcomer for a name, then sends each line a member
// types to every other member as "alice: hello". Joins and leaves are
// announced ("* alice has joined", "* alice has left"), and "/quit" leaves.
// The default address is 127.0.0.1:4201, which only this machine can
// reach; -addr :4201 lets others in. The server logs to standard error, and
// SIGINT (Ctrl-C) or SIGTERM stops it.
//
// Without telnet, -demo runs the server with three scripted members in one
// process, prints what they type and read, and exits:
//
//	go run ./examples/chat -demo
//
// Each member has one task, which waits in one task.Select for whichever
// comes first: a line from its connection (Conn.LineCase) or a line from
// the others (its outbox, a task.Chan). A member's outbox holds -outbox
// lines (16 by default). The others put lines in it with TrySend, which
// never waits: a member who stops reading, and whose outbox fills up, is
// dropped rather than holding up the room.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/lwtask/lwtask"
)

// defaultAddr is where the server listens unless told otherwise: this
// machine only.
const defaultAddr = "127.0.0.1:4201"

// maxOutbox is the most lines -outbox may ask for: each member's outbox
// is made that size when it joins.
const maxOutbox = 10000

// config is what the flags say.
type config struct {
	addr   string
	outbox int    // lines an outbox holds
	poller string // the poller backend, "" for the default; the tests set it
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("chat", flag.ContinueOnError)
	flags.SetOutput(stderr)
	addr := flags.String("addr", defaultAddr, "`host:port` to listen on (-demo: a free port)")
	outbox := flags.Int("outbox", 16, "lines held for a member who falls behind, before it is dropped")
	demo := flags.Bool("demo", false, "run the server with three scripted members, print what they see, and exit")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	switch {
	case flags.NArg() > 0:
		fmt.Fprintf(stderr, "chat: unexpected argument %q\n", flags.Arg(0))
		return 2
	case *outbox < 1:
		fmt.Fprintln(stderr, "chat: -outbox must be at least 1")
		return 2
	case *outbox > maxOutbox:
		fmt.Fprintf(stderr, "chat: -outbox must be at most %d\n", maxOutbox)
		return 2
	}
	cfg := config{addr: *addr, outbox: *outbox}
	var err error
	if *demo {
		if !isSet(flags, "addr") {
			cfg.addr = "127.0.0.1:0" // any port will do: the script is told which
		}
		err = runDemo(cfg, stdout)
	} else {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err = serve(ctx, cfg, stderr)
	}
	if err != nil {
		fmt.Fprintln(stderr, "chat:", err)
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

// serve runs the chat server until ctx is done, logging to log.
func serve(ctx context.Context, cfg config, log io.Writer) error {
	rt, l, err := listen(cfg)
	if err != nil {
		return err
	}
	defer rt.Close()
	defer l.Close()
	fmt.Fprintln(log, "chat: listening on", l.Addr())
	r := newRoom(cfg.outbox, log)
	rt.Go("listener", func(t *lwtask.Task) { r.listen(t, rt, l) })
	return rt.RunContext(ctx)
}

// listen makes a runtime and a listener on it.
func listen(cfg config) (*lwtask.Runtime, *lwtask.Listener, error) {
	var opts []lwtask.Option
	if cfg.poller != "" {
		opts = append(opts, lwtask.WithPoller(cfg.poller))
	}
	rt, err := lwtask.New(opts...)
	if err != nil {
		return nil, nil, err
	}
	l, err := rt.Listen("tcp", cfg.addr)
	if err != nil {
		rt.Close()
		return nil, nil, err
	}
	return rt, l, nil
}
