package main

import "math"

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
// line on ASCII white space and wants exactly "SPAM" and a number. A number
// too large for an int64 is still a number above zero: it is served until
// the client has had enough.
func parseRequest(line []byte) (n int64, ok bool) {
	fields, count := splitFields(line)
	if count != 2 || string(fields[0]) != "SPAM" {
		return 0, false
	}
	digits := fields[1]
	if len(digits) > 0 && digits[0] == '+' {
		digits = digits[1:]
	}
	return parseCount(digits)
}

// parseCount reads a whole number above zero, saturating at MaxInt64.
func parseCount(digits []byte) (n int64, ok bool) {
	if !isDigits(digits) {
		return 0, false
	}
	for _, c := range digits {
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return math.MaxInt64, true
		}
		n = n*10 + d
	}
	return n, n >= 1
}

// splitFields splits a request on ASCII white space, without allocating:
// it returns up to three fields (a third means too many) and how many it
// found.
func splitFields(line []byte) (fields [3][]byte, count int) {
	i := 0
	for count < len(fields) {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i == len(line) {
			break
		}
		start := i
		for i < len(line) && !isSpace(line[i]) {
			i++
		}
		fields[count] = line[start:i]
		count++
	}
	return fields, count
}

// isSpace reports whether c is white space to the essay's split(). Its line
// is bytes read off a socket (a Python 2 str), which split() cuts at ASCII
// white space only: a no-break space or any other Unicode space, in UTF-8,
// is part of a field, not a separator.
func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}
