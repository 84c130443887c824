package main

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// repr formats s as Python's repr formats a str, which is how the essay
// shows each line: in single quotes (double quotes if s has a single quote
// and no double quote), with backslashes, the quote and unprintable
// characters escaped.
func repr(s string) string {
	quote := '\''
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		quote = '"'
	}
	var b strings.Builder
	b.WriteRune(quote)
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && size == 1 {
			// Python, reading with errors="surrogateescape", turns
			// a byte that is not UTF-8 into a lone surrogate.
			fmt.Fprintf(&b, `\udc%02x`, s[0])
		} else {
			writeRune(&b, r, quote)
		}
		s = s[size:]
	}
	b.WriteRune(quote)
	return b.String()
}

func writeRune(b *strings.Builder, r, quote rune) {
	switch {
	case r == quote || r == '\\':
		b.WriteByte('\\')
		b.WriteRune(r)
	case r == '\n':
		b.WriteString(`\n`)
	case r == '\r':
		b.WriteString(`\r`)
	case r == '\t':
		b.WriteString(`\t`)
	case unicode.IsPrint(r):
		b.WriteRune(r)
	case r < 0x100:
		fmt.Fprintf(b, `\x%02x`, r)
	case r < 0x10000:
		fmt.Fprintf(b, `\u%04x`, r)
	default:
		fmt.Fprintf(b, `\U%08x`, r)
	}
}
