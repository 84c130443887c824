package main

import (
	"math"
	"math/big"
	"strings"
	"testing"
)

func TestParseRequest(t *testing.T) {
	for _, tc := range []struct {
		line string
		n    int64
		ok   bool
	}{
		{"SPAM 1", 1, true},
		{"SPAM 3", 3, true},
		{"  SPAM\t42 \r", 42, true},
		{"SPAM +7", 7, true},
		{"SPAM 0007", 7, true},
		{"\fSPAM\v3\r", 3, true},
		{"SPAM 9223372036854775807", math.MaxInt64, true},
		{"SPAM 9223372036854775808", math.MaxInt64, true},
		{"SPAM 99999999999999999999999999999999", math.MaxInt64, true},
		{"SPAM 0", 0, false},
		{"SPAM 00", 0, false},
		{"SPAM -1", 0, false},
		{"SPAM -0", 0, false},
		{"SPAM +0", 0, false},
		{"SPAM -99999999999999999999999999999999", 0, false},
		{"SPAM +", 0, false},
		{"SPAM ++1", 0, false},
		{"SPAM +-1", 0, false},
		{"SPAM x", 0, false},
		{"SPAM 1x", 0, false},
		{"SPAM 99999999999999999999x", 0, false}, // too large before it is not a number
		{"SPAM 1.0", 0, false},
		{"SPAM 1_000", 0, false}, // Python 3's int takes it; the essay's Python 2 did not
		{"SPAM 0x10", 0, false},
		{"SPAM \uff13", 0, false}, // a full-width 3: ASCII digits only
		// The essay splits bytes, at ASCII white space only; Python 3's
		// str.split() would also split at these.
		{"SPAM\u00a03", 0, false},  // a no-break space, in UTF-8
		{"SPAM\u20033", 0, false},  // an em space
		{"\u0085SPAM 3", 0, false}, // a next line (NEL)
		{"SPAM 3\u3000", 0, false}, // an ideographic space
		{"SPAM\x853", 0, false},    // NEL in Latin-1
		{"SPAM\x1c3", 0, false},    // a file separator
		{"SPAM 2 junk", 0, false},
		{"SPAM 2x", 0, false},
		{"EGGS 3", 0, false},
		{"spam 3", 0, false},
		{"SPAM", 0, false},
		{"SPAM 1 2", 0, false},
		{"3 SPAM", 0, false},
		{"", 0, false},
		{"\x00\xff", 0, false},
		{"SPAM 3\x00", 0, false},
	} {
		n, ok := parseRequest([]byte(tc.line))
		if n != tc.n || ok != tc.ok {
			t.Errorf("parseRequest(%q) = %d, %v; want %d, %v", tc.line, n, ok, tc.n, tc.ok)
		}
	}
}

// FuzzParseRequest compares parseRequest with essayParse. The seed corpus
// is in testdata/fuzz/FuzzParseRequest.
func FuzzParseRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, line []byte) {
		n, ok := parseRequest(line)
		wantN, wantOK := essayParse(line)
		if n != wantN || ok != wantOK {
			t.Fatalf("parseRequest(%q) = %d, %v; the essay's rules give %d, %v", line, n, ok, wantN, wantOK)
		}
	})
}

// essayParse is the essay's parse_request written out plainly, as a
// reference: split the line on white space, want exactly "SPAM" and a
// whole number of at least 1. The line is bytes, as the essay's is (a
// Python 2 str), so split() cuts at ASCII white space only, and the number
// is what Python 2's int accepts: ASCII digits after an optional sign.
// Numbers too large for an int64 mean MaxInt64, since nobody will read that
// much spam.
func essayParse(line []byte) (int64, bool) {
	tokens := splitOnSpace(string(line))
	if len(tokens) != 2 || tokens[0] != "SPAM" {
		return 0, false
	}
	n, ok := wholeNumber(tokens[1])
	if !ok || n.Sign() < 1 {
		return 0, false
	}
	if !n.IsInt64() {
		return math.MaxInt64, true
	}
	return n.Int64(), true
}

// splitOnSpace is Python 2's str.split(): runs of ASCII white space
// separate tokens.
func splitOnSpace(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(" \t\n\v\f\r", r) })
}

// wholeNumber parses an optional sign and decimal digits.
func wholeNumber(s string) (*big.Int, bool) {
	negative := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		negative = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return nil, false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return nil, false
		}
	}
	n, _ := new(big.Int).SetString(s, 10)
	if negative {
		n.Neg(n)
	}
	return n, true
}

// TestParseRequestAllocs keeps the parser off the heap: it runs once per
// request.
func TestParseRequestAllocs(t *testing.T) {
	for _, line := range []string{"SPAM 3", "  SPAM\t12345 ", "EGGS 3", "SPAM 1 2", "SPAM 99999999999999999999"} {
		b := []byte(line)
		if allocs := testing.AllocsPerRun(100, func() { parseRequest(b) }); allocs != 0 {
			t.Errorf("parseRequest(%q) allocates %v times", line, allocs)
		}
	}
}
