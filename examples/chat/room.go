package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/lwtask/lwtask"
	"github.com/lwtask/lwtask/task"
)

// A room is the chat's shared state: who is in it. It belongs to the tasks
// of one scheduler, which run one at a time, so it needs no lock.
type room struct {
	members    []*member // in the order they joined
	outboxSize int
	log        io.Writer
}

// A member is one person in the room.
type member struct {
	name   string
	task   *lwtask.Task       // its one task, which reads its connection and writes to it
	outbox *task.Chan[string] // lines from the others, for its task to send on
}

var (
	errQuit    = errors.New("quit")
	errTooSlow = errors.New("too slow: outbox full")
)

// maxName is the longest name, in characters.
const maxName = 20

func newRoom(outboxSize int, log io.Writer) *room {
	return &room{outboxSize: outboxSize, log: log}
}

// listen accepts connections, and gives each a task of its own.
func (r *room) listen(t *lwtask.Task, rt *lwtask.Runtime, l *lwtask.Listener) {
	for {
		conn, err := l.Accept(t)
		if err != nil {
			return // the listener was closed
		}
		rt.Go("chat "+conn.RemoteAddr().String(), func(t *lwtask.Task) { r.serve(t, conn) })
	}
}

// serve is the one task of one connection, from hello to goodbye.
func (r *room) serve(t *lwtask.Task, conn *lwtask.Conn) {
	defer conn.Close()
	name, err := r.chat(t, conn)
	if name == "" {
		name = conn.RemoteAddr().String()
	}
	r.logf("%s left: %v", name, err)
	switch {
	case err == errQuit:
		hangUp(t, conn, "Bye.")
	case errors.Is(err, lwtask.ErrLineTooLong):
		hangUp(t, conn, fmt.Sprintf("* Lines are at most %d bytes. Bye.", lwtask.DefaultMaxLine))
	}
	// Otherwise the member hung up, or the connection broke, or the member
	// was dropped: there is no one to say goodbye to.
}

// chat asks a newcomer's name, then passes on what the member types and
// sends it what the others say, until it quits, hangs up or falls behind.
// It returns the name, if it got one, and why it ended.
func (r *room) chat(t *lwtask.Task, conn *lwtask.Conn) (string, error) {
	name, err := r.askName(t, conn)
	if err != nil {
		return "", err
	}
	m := r.join(t, name) // no other task has run since askName found the name free
	defer r.leave(m)
	r.logf("%s joined from %s", name, conn.RemoteAddr())
	if err := send(t, conn, r.welcome(m)); err != nil {
		return name, err
	}
	for {
		// Whichever comes first: a line typed, or a line from the others.
		var said string
		i, err := task.Select(t, conn.LineCase(), m.outbox.RecvCase(&said))
		if err != nil {
			return name, err // cancelled: dropped (see drop)
		}
		if i == 1 {
			if err := send(t, conn, said); err != nil {
				return name, err
			}
			continue
		}
		line, err := readLine(t, conn)
		switch {
		case err != nil:
			return name, err
		case line == "/quit":
			return name, errQuit
		case t.Cancelled() != nil:
			// Dropped while the line was on its way: a line that is
			// there already is not a wait, where a cancellation is told.
			return name, t.Cancelled()
		case line != "":
			r.broadcast(m, name+": "+line)
			// The others take it from their outboxes before the next line:
			// a paste of many lines fills no one's outbox.
			t.Yield()
		}
	}
}

// askName asks for a name until it gets one that is valid and free.
func (r *room) askName(t *lwtask.Task, conn *lwtask.Conn) (string, error) {
	question := "Welcome to the lwtask chat. What is your name?"
	for {
		if err := send(t, conn, question); err != nil {
			return "", err
		}
		name, err := readLine(t, conn)
		switch {
		case err != nil:
			return "", err
		case name == "/quit":
			return "", errQuit
		case !validName(name):
			question = fmt.Sprintf("A name is 1 to %d letters, digits, - or _. What is your name?", maxName)
		case r.named(name) != nil:
			question = "Someone here is called " + name + " already. What is your name?"
		default:
			return name, nil
		}
	}
}

// validName reports whether name is 1 to maxName letters, digits, - or _.
func validName(name string) bool {
	n := utf8.RuneCountInString(name)
	return n >= 1 && n <= maxName && strings.IndexFunc(name, func(c rune) bool {
		return !unicode.IsLetter(c) && !unicode.IsDigit(c) && c != '-' && c != '_'
	}) < 0
}

// named returns the member called name, or nil.
func (r *room) named(name string) *member {
	for _, m := range r.members {
		if m.name == name {
			return m
		}
	}
	return nil
}

// join lets in a member called name, whose task is t, and tells the others.
func (r *room) join(t *lwtask.Task, name string) *member {
	m := &member{name: name, task: t, outbox: task.NewChan[string]("outbox of "+name, r.outboxSize)}
	r.broadcast(m, "* "+name+" has joined")
	r.members = append(r.members, m)
	return m
}

// welcome greets m and names the others.
func (r *room) welcome(m *member) string {
	var others []string
	for _, o := range r.members {
		if o != m {
			others = append(others, o.name)
		}
	}
	if len(others) == 0 {
		return "Hello, " + m.name + ". Nobody else is here yet."
	}
	return "Hello, " + m.name + ". Here with you: " + strings.Join(others, ", ") + "."
}

// leave takes m out of the room, if it is still in, and tells the others.
func (r *room) leave(m *member) {
	r.remove(m)
	r.broadcast(m, "* "+m.name+" has left")
}

func (r *room) remove(m *member) {
	r.members = slices.DeleteFunc(r.members, func(o *member) bool { return o == m })
}

// broadcast puts line in the outbox of every member but from. It never
// waits for anyone: a member whose outbox is full has stopped reading, and
// is dropped.
func (r *room) broadcast(from *member, line string) {
	var slow []*member
	for _, m := range r.members {
		if m == from {
			continue
		}
		if ok, _ := m.outbox.TrySend(line); !ok {
			slow = append(slow, m)
		}
	}
	for _, m := range slow {
		r.drop(m)
	}
}

// drop takes a member who has fallen behind out of the room, and cancels
// its task, which is most likely waiting for its connection to take more
// output. That wait fails, and the task ends as when a member leaves, which
// tells the others.
func (r *room) drop(m *member) {
	r.logf("dropping %s: %v", m.name, errTooSlow)
	r.remove(m)
	m.task.Cancel(errTooSlow)
}

func (r *room) logf(format string, args ...any) {
	fmt.Fprintf(r.log, format+"\n", args...)
}

// send writes a line to conn, and waits until conn has taken it all.
func send(t *lwtask.Task, conn *lwtask.Conn, line string) error {
	if _, err := conn.WriteString(t, line+"\r\n"); err != nil {
		return err
	}
	return conn.Flush(t)
}

// readLine returns the next line the member typed, made safe to show on
// the others' terminals (see clean). A line cut short by a hang-up was not
// finished: readLine drops it and returns io.EOF.
func readLine(t *lwtask.Task, conn *lwtask.Conn) (string, error) {
	// Wait until a whole line is here (or the input has ended), so that
	// ReadLine reads nothing more: what it takes from the buffer then tells
	// whether the line had an ending.
	if _, err := task.Select(t, conn.LineCase()); err != nil {
		return "", err
	}
	before := conn.Buffered()
	line, err := conn.ReadLine(t)
	if err != nil {
		return "", err
	}
	if before-conn.Buffered() == len(line) {
		return "", io.EOF // no line ending: cut short
	}
	return clean(line), nil
}

// clean trims a line and drops its control characters (escape sequences,
// bells, telnet's commands), which would act on the others' terminals.
// Bytes that are not UTF-8 become U+FFFD.
func clean(line []byte) string {
	s := strings.Map(func(c rune) rune {
		switch {
		case c == '\t':
			return ' '
		case unicode.IsControl(c):
			return -1
		}
		return c
	}, string(line))
	return strings.TrimSpace(s)
}

// hangUp says goodbye, before conn is closed. Closing with input unread
// would make the kernel reset the connection, and a reset can overtake the
// goodbye: so the server shuts down its side first, then reads what the
// member still sends until it hangs up too, for a second at most.
func hangUp(t *lwtask.Task, conn *lwtask.Conn, goodbye string) {
	conn.WriteString(t, goodbye+"\r\n")
	if conn.CloseWrite(t) != nil {
		return
	}
	conn.SetReadDeadline(time.Now().Add(time.Second))
	io.Copy(io.Discard, io.LimitReader(conn.For(t), 1<<20))
}
