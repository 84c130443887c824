package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/lwtask/lwtask"
)

// runDemo runs the server and a script of three members as tasks of one
// scheduler, and prints what the members type (>) and read (<). Once the
// script is done it closes the listener, and Run returns when the
// members' tasks have seen them hang up.
func runDemo(cfg config, out io.Writer) error {
	rt, l, err := listen(cfg)
	if err != nil {
		return err
	}
	defer rt.Close()
	r := newRoom(cfg.outbox, io.Discard)
	rt.Go("listener", func(t *lwtask.Task) { r.listen(t, rt, l) })
	var scriptErr error
	rt.Go("script", func(t *lwtask.Task) {
		defer l.Close()
		scriptErr = script(t, rt, l.Addr().String(), out)
	})
	if err := rt.Run(); err != nil {
		return err
	}
	return scriptErr
}

// maxFlood bounds the lines alice sends before carol must have been
// dropped: far more than any socket buffers hold.
const maxFlood = 200_000

// script is the demo: alice and bob chat; carol joins and stops reading,
// and is dropped while alice talks on and bob reads every line; bob quits.
func script(t *lwtask.Task, rt *lwtask.Runtime, addr string, out io.Writer) error {
	alice, err := connect(t, rt, addr, "alice", out)
	if err != nil {
		return err
	}
	defer alice.conn.Close()
	bob, err := connect(t, rt, addr, "bob", out)
	if err != nil {
		return err
	}
	defer bob.conn.Close()
	steps := []func() error{
		func() error { return alice.expect(t, "* bob has joined") },
		func() error { return alice.say(t, "Hello, bob!") },
		func() error { return bob.expect(t, "alice: Hello, bob!") },
		func() error { return bob.say(t, "Hi, alice. Where is carol?") },
		func() error { return alice.expect(t, "bob: Hi, alice. Where is carol?") },
	}
	if err := do(steps); err != nil {
		return err
	}
	carol, err := connect(t, rt, addr, "carol", out)
	if err != nil {
		return err
	}
	defer carol.conn.Close()
	steps = []func() error{
		func() error { return alice.expect(t, "* carol has joined") },
		func() error { return bob.expect(t, "* carol has joined") },
		func() error { return flood(t, alice, bob, "carol", out) },
		func() error { return alice.expect(t, "* carol has left") },
		func() error { return alice.say(t, "Only the two of us now.") },
		func() error { return bob.expect(t, "alice: Only the two of us now.") },
		func() error { return bob.say(t, "/quit") },
		func() error { return bob.expect(t, "Bye.") },
		func() error { return bob.expectEOF(t) },
		func() error { return alice.expect(t, "* bob has left") },
		func() error { return alice.say(t, "/quit") },
		func() error { return alice.expect(t, "Bye.") },
		func() error { return alice.expectEOF(t) },
	}
	return do(steps)
}

// flood has from send long lines, which to reads one by one, until the
// member called slow, who reads nothing, is dropped.
func flood(t *lwtask.Task, from, to *bot, slow string, out io.Writer) error {
	fmt.Fprintf(out, "(%s stops reading; %s sends long lines, which %s reads, until %s is dropped)\n",
		slow, from.name, to.name, slow)
	filler := strings.TrimSpace(strings.Repeat("spam ", 200))
	left := "* " + slow + " has left"
	dropped := false
	for i := 1; !dropped; i++ {
		if i > maxFlood {
			return fmt.Errorf("%s was not dropped after %d lines", slow, maxFlood)
		}
		line := fmt.Sprintf("line %d: %s", i, filler)
		if err := from.write(t, line); err != nil {
			return err
		}
		for { // every line arrives, in order; the leave may come in between
			got, err := to.next(t)
			if err != nil {
				return err
			}
			if got == left && !dropped {
				dropped = true
				fmt.Fprintf(out, "%s < %s\n", to.name, got)
				continue
			}
			if got != from.name+": "+line {
				return fmt.Errorf("%s read %.40q, want line %d", to.name, got, i)
			}
			break
		}
	}
	fmt.Fprintf(out, "(%s read every line %s sent)\n", to.name, from.name)
	return nil
}

func do(steps []func() error) error {
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// A bot is a scripted member, talking to the server over a socket.
type bot struct {
	name string
	conn *lwtask.Conn
	out  io.Writer
}

// connect connects a bot and has it give its name.
func connect(t *lwtask.Task, rt *lwtask.Runtime, addr, name string, out io.Writer) (*bot, error) {
	fmt.Fprintln(out, name, "connects")
	conn, err := rt.Dial(t, "tcp", addr)
	if err != nil {
		return nil, err
	}
	b := &bot{name: name, conn: conn, out: out}
	if err := b.expect(t, "Welcome to the lwtask chat. What is your name?"); err != nil {
		conn.Close()
		return nil, err
	}
	if err := b.say(t, name); err != nil {
		conn.Close()
		return nil, err
	}
	if _, err := b.read(t); err != nil { // the greeting, which names the others
		conn.Close()
		return nil, err
	}
	return b, nil
}

// say types a line, and prints it.
func (b *bot) say(t *lwtask.Task, line string) error {
	fmt.Fprintf(b.out, "%s > %s\n", b.name, line)
	return b.write(t, line)
}

func (b *bot) write(t *lwtask.Task, line string) error {
	if _, err := b.conn.WriteString(t, line+"\r\n"); err != nil {
		return err
	}
	return b.conn.Flush(t)
}

// expect reads a line, prints it, and checks that it is want.
func (b *bot) expect(t *lwtask.Task, want string) error {
	got, err := b.read(t)
	if err == nil && got != want {
		err = fmt.Errorf("%s read %q, want %q", b.name, got, want)
	}
	return err
}

// read reads a line and prints it.
func (b *bot) read(t *lwtask.Task) (string, error) {
	line, err := b.next(t)
	if err == nil {
		fmt.Fprintf(b.out, "%s < %s\n", b.name, line)
	}
	return line, err
}

// next reads a line.
func (b *bot) next(t *lwtask.Task) (string, error) {
	line, err := b.conn.ReadLine(t)
	if err != nil {
		return "", fmt.Errorf("%s: %w", b.name, err)
	}
	return string(line), nil
}

// expectEOF checks that the server has hung up.
func (b *bot) expectEOF(t *lwtask.Task) error {
	line, err := b.conn.ReadLine(t)
	if err != io.EOF {
		return fmt.Errorf("%s read %q, %v, want the end", b.name, line, err)
	}
	fmt.Fprintln(b.out, b.name, "is disconnected")
	return nil
}
