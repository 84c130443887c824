package main

import (
	"bytes"
	"errors"
	"math"
	"strconv"
)

// The spam protocol, from the essay: a client sends "SPAM n"; the server
// answers "100 SPAM FOLLOWS" and n lines of spam, or "400 WE ONLY SERVE
// SPAM" when n is not a whole number above zero or the request is malformed.
const (
	spamFollows = "100 SPAM FOLLOWS\n"
	spamLine    = "spam glorious spam\n"
	badRequest  = "400 WE ONLY SERVE SPAM\n"
)

// parseRequest returns how many lines of spam a request line asks for, or
// false if the request is bad. Like the essay's parse_request it splits the
// line on white space and wants exactly "SPAM" and a number. A number too
// large for an int64 is still a number above zero: it is served until the
// client has had enough.
func parseRequest(line []byte) (n int64, ok bool) {
	fields := bytes.Fields(line)
	if len(fields) != 2 || string(fields[0]) != "SPAM" {
		return 0, false
	}
	digits := fields[1]
	if len(digits) > 0 && digits[0] == '+' {
		digits = digits[1:]
	}
	u, err := strconv.ParseUint(string(digits), 10, 63)
	switch {
	case err == nil:
		return int64(u), u >= 1
	case errors.Is(err, strconv.ErrRange) && isDigits(digits):
		return math.MaxInt64, true
	}
	return 0, false
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}
