package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
	"strconv"
)

// The spam protocol, as cmd/spamserver speaks it.
const (
	spamFollows = "100 SPAM FOLLOWS\n"
	spamLine    = "spam glorious spam\n"
	badRequest  = "400 WE ONLY SERVE SPAM\n"
	maxLine     = 4096 // lwtask.DefaultMaxLine, without the line ending
)

var errLineTooLong = errors.New("line too long")

// readLine returns the next line without its "\n" or "\r\n", as lwtask's
// Conn.ReadLine does: a last line without a line ending counts, and a line
// longer than maxLine is an error. r's buffer holds maxLine+2 bytes, so a
// full buffer with no newline is already too long.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull:
		return nil, errLineTooLong
	case err == io.EOF && len(line) > 0:
		err = nil // the last line, unterminated
	case err != nil:
		return nil, err
	default:
		line = line[:len(line)-1]
		line = bytes.TrimSuffix(line, []byte("\r"))
	}
	if len(line) > maxLine {
		return nil, errLineTooLong
	}
	return line, err
}

// serve writes the reply to one request.
func serve(w *bufio.Writer, line []byte) error {
	n, ok := parseRequest(line)
	if !ok {
		_, err := w.WriteString(badRequest)
		return err
	}
	w.WriteString(spamFollows)
	for ; n > 0; n-- {
		if _, err := w.WriteString(spamLine); err != nil {
			return err
		}
	}
	return nil
}

// parseRequest returns the number of lines of spam a request asks for: the
// word SPAM and a whole number above zero, separated by white space. A
// number beyond an int64 is served until the client has had enough.
func parseRequest(line []byte) (n int64, ok bool) {
	fields := bytes.Fields(line)
	if len(fields) != 2 || string(fields[0]) != "SPAM" {
		return 0, false
	}
	digits := bytes.TrimPrefix(fields[1], []byte("+"))
	u, err := strconv.ParseUint(string(digits), 10, 63)
	switch {
	case err == nil:
		return int64(u), u >= 1
	case errors.Is(err, strconv.ErrRange) && allDigits(digits):
		return math.MaxInt64, true
	}
	return 0, false
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}
