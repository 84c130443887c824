package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lwtask/lwtask/examples/internal/progtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// essaySession is the essay's sample session, word for word.
const essaySession = `Waiting for input
Input is ready
Input was: 'asdf\n'
Waiting for input
Input is ready
Input was: 'qwer\n'
Waiting for input
Input is ready
Input was: ''
`

// The essay's session typed a line at a time: each line goes down the pipe
// only once the program has said it is waiting, so it really parks on
// standard input each time.
func TestTypedSession(t *testing.T) {
	cmd := exec.Command(progtest.Build(t))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	out := bufio.NewScanner(stdout)
	var got strings.Builder
	expect := func(n int) {
		for range n {
			if !out.Scan() {
				t.Fatalf("output ended early; so far:\n%s", got.String())
			}
			got.WriteString(out.Text() + "\n")
		}
	}
	expect(1) // Waiting for input
	io.WriteString(stdin, "asdf\n")
	expect(3) // ... Waiting for input
	io.WriteString(stdin, "qwer\n")
	expect(3)
	stdin.Close()
	expect(2)
	if out.Scan() {
		t.Errorf("unexpected output after the session: %q", out.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit: %v", err)
	}
	if got.String() != essaySession {
		t.Errorf("session:\n%s\nwant the essay's:\n%s", got.String(), essaySession)
	}
}

// Lines that arrive together give the same session: the second is
// already buffered when the loop comes round, so it must not wait for the
// descriptor to become readable again.
func TestPipedInput(t *testing.T) {
	got := runWithInput(t, strings.NewReader("asdf\nqwer\n"))
	if got != essaySession {
		t.Errorf("session:\n%s\nwant the essay's:\n%s", got, essaySession)
	}
}

// A regular file as standard input, which epoll refuses to watch, and a
// last line with no line ending, which Python's readline returns as is.
func TestFileInput(t *testing.T) {
	name := filepath.Join(t.TempDir(), "input")
	if err := os.WriteFile(name, []byte("it's\nlast"), 0o666); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := runWithInput(t, f)
	want := `Waiting for input
Input is ready
Input was: "it's\n"
Waiting for input
Input is ready
Input was: 'last'
Waiting for input
Input is ready
Input was: ''
`
	if got != want {
		t.Errorf("session:\n%s\nwant:\n%s", got, want)
	}
}

func runWithInput(t *testing.T, in io.Reader) string {
	t.Helper()
	cmd := exec.Command(progtest.Build(t))
	cmd.Stdin = in
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("exit: %v", err)
	}
	return string(out)
}

// Expected values printed by Python 3's repr.
func TestRepr(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", `''`},
		{"asdf\n", `'asdf\n'`},
		{"it's\n", `"it's\n"`},
		{`say "hi" and 'bye'` + "\n", `'say "hi" and \'bye\'\n'`},
		{"tab\there\r\n", `'tab\there\r\n'`},
		{`back\slash`, `'back\\slash'`},
		{"\x00\x7f\u0080\u00a0é€😀\u200b\U000e0001", `'\x00\x7f\x80\xa0é€😀\u200b\U000e0001'`},
		{"\xff\xfe", `'\udcff\udcfe'`},
	} {
		if got := repr(tc.in); got != tc.want {
			t.Errorf("repr(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
