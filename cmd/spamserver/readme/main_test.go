package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lwtask/lwtask"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// patience bounds every wait, so that a hang fails the test; a healthy
// server answers in milliseconds.
const patience = 20 * time.Second

// TestREADME checks that the README shows this program: the code block
// after the words that introduce it is main.go.
func TestREADME(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	program, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := bytes.Cut(readme, []byte("\nA spam server in generator style."))
	if !ok {
		t.Fatal("README.md no longer introduces the spam server with \"A spam server in generator style.\"")
	}
	_, block, ok := bytes.Cut(after, []byte("\n```go\n"))
	if ok {
		block, _, ok = bytes.Cut(block, []byte("\n```\n"))
	}
	if !ok {
		t.Fatal("no go code block after the spam server's introduction in README.md")
	}
	got, want := strings.Split(string(block)+"\n", "\n"), strings.Split(string(program), "\n")
	for i := range max(len(got), len(want)) {
		g, w := lineAt(got, i), lineAt(want, i)
		if g != w {
			t.Fatalf("README.md's spam server differs from main.go at its line %d:\n%q\nmain.go has:\n%q", i+1, g, w)
		}
	}
}

func lineAt(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "(the end)"
}

func TestParseRequest(t *testing.T) {
	for _, tc := range []struct {
		line string
		n    int
		ok   bool
	}{
		{"SPAM 3", 3, true},
		{"  SPAM\t42 \r", 42, true},
		{"\fSPAM\v+7", 7, true},
		{"SPAM 007", 7, true},
		{"SPAM 99999999999999999999", math.MaxInt, true},
		{"SPAM 0", 0, false},
		{"SPAM -1", 0, false},
		{"SPAM -0", 0, false},
		{"SPAM +", 0, false},
		{"SPAM ++1", 0, false},
		{"SPAM 2 junk", 0, false},
		{"SPAM 2x", 0, false},
		{"SPAM 99999999999999999999x", 0, false},
		{"SPAM 1_000", 0, false},
		{"SPAM 0x10", 0, false},
		{"SPAM \uff13", 0, false},
		{"SPAM\u00a03", 0, false},
		{"\u0085SPAM 3", 0, false},
		{"SPAM\x1c3", 0, false},
		{"EGGS 3", 0, false},
		{"spam 3", 0, false},
		{"SPAM", 0, false},
		{"", 0, false},
		{"\x00\xff", 0, false},
	} {
		n, ok := parseRequest([]byte(tc.line))
		if ok != tc.ok || ok && n != tc.n {
			t.Errorf("parseRequest(%q) = %d, %v; want %d, %v", tc.line, n, ok, tc.n, tc.ok)
		}
	}
}

// TestServe runs main's listener and handle on a loopback port, with a
// client that asks for spam, makes bad requests, and hangs up in the middle
// of endless spam, which must end its handler.
func TestServe(t *testing.T) {
	rt, err := lwtask.New()
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	l, err := rt.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rt.Go("listener", func(t *lwtask.Task) {
		for {
			c, err := l.Accept(t)
			if err != nil {
				return
			}
			rt.Go("handler", func(t *lwtask.Task) { handle(t, c) })
		}
	})
	clientErr := make(chan error, 1)
	go func() {
		// Once the client is done, so is the listener: Run returns when
		// the handlers have ended too.
		defer rt.Post(func() { l.Close() })
		clientErr <- client(l.Addr().String())
	}()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := rt.RunContext(ctx); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("the server's tasks did not end")
	}
	if err := <-clientErr; err != nil {
		t.Fatal(err)
	}
}

const (
	spamFollows = "100 SPAM FOLLOWS\n"
	spamLine    = "spam glorious spam\n"
	badRequest  = "400 WE ONLY SERVE SPAM\n"
)

func client(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, patience)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(patience))
	r := bufio.NewReader(conn)
	for _, tc := range []struct {
		request string
		n       int // 0: refused
	}{
		{"SPAM 3\n", 3},
		{"\tSPAM +2\r\n", 2},
		{"SPAM 2 junk\n", 0},
		{"SPAM 2x\n", 0},
		{"SPAM\u00a03\n", 0},
		{"SPAM 0\n", 0},
		{"EGGS\n", 0},
		{"SPAM 1\n", 1},
	} {
		want := badRequest
		if tc.n > 0 {
			want = spamFollows + strings.Repeat(spamLine, tc.n)
		}
		if err := ask(conn, r, tc.request, want); err != nil {
			return err
		}
	}
	// Endless spam: read some, then hang up.
	if err := ask(conn, r, "SPAM 99999999999999999999\n", spamFollows+strings.Repeat(spamLine, 1000)); err != nil {
		return err
	}
	return nil
}

// ask sends request and reads len(want) bytes of the reply.
func ask(conn net.Conn, r *bufio.Reader, request, want string) error {
	if _, err := io.WriteString(conn, request); err != nil {
		return err
	}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(r, got); err != nil {
		return fmt.Errorf("%q: %w", request, err)
	}
	if string(got) != want {
		return fmt.Errorf("%q: got %.80q..., want %.80q...", request, got, want)
	}
	return nil
}
