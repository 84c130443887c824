package main

import (
	"bytes"
	"io"

	"github.com/lwtask/lwtask"
)

// stepHandler is the essay's handler as a state machine, for -style step:
// lwtask calls Serve with the input received so far, and it answers every
// whole request there, appending the replies. It keeps between calls only
// what is left of a reply too long to buffer at once.
type stepHandler struct {
	owed int64 // lines of spam still to send for the request being answered
}

// maxLine is the longest request line, as ReadLine takes them in the
// generator style.
const maxLine = lwtask.DefaultMaxLine

// replyChunk is how much of a long reply Serve appends at a time: the rest
// waits until that much has been written, so a client asking for endless
// spam costs the server no more.
const replyChunk = 64 << 10

func (h *stepHandler) Serve(c *lwtask.Conn, in []byte, eof bool) (int, error) {
	consumed := 0
	for h.spam(c) {
		line, rest, found := bytes.Cut(in[consumed:], []byte{'\n'})
		switch {
		case !found && len(line) > maxLine+1, found && len(trimCR(line)) > maxLine:
			// The next request cannot be found: refuse, and close.
			c.AppendString(badRequest)
			return len(in), io.EOF
		case !found && !eof:
			return consumed, nil // wait for the rest of the line
		case !found && len(line) == 0:
			return consumed, nil
		}
		consumed = len(in) - len(rest)
		if n, ok := parseRequest(trimCR(line)); ok {
			c.AppendString(spamFollows)
			h.owed = n
		} else {
			c.AppendString(badRequest)
		}
	}
	return consumed, nil
}

// spam appends the lines owed, up to replyChunk of output, and reports
// whether all have been: until then no more requests are read, so replies
// stay in order.
func (h *stepHandler) spam(c *lwtask.Conn) bool {
	for ; h.owed > 0 && c.Unflushed() < replyChunk; h.owed-- {
		c.AppendString(spamLine)
	}
	return h.owed == 0
}

func trimCR(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		return line[:n-1]
	}
	return line
}
