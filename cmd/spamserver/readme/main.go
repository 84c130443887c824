package main

import (
	"bytes"
	"log"
	"strconv"
	"strings"

	"github.com/lwtask/lwtask"
)

func main() {
	rt, err := lwtask.New()
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	l, err := rt.Listen("tcp", ":4200")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	rt.Go("listener", func(t *lwtask.Task) {
		for {
			c, err := l.Accept(t) // parks until a client connects
			if err != nil {
				return
			}
			rt.Go("handler", func(t *lwtask.Task) { handle(t, c) })
		}
	})
	if err := rt.Run(); err != nil {
		log.Fatal(err)
	}
}

// handle serves one client. ReadLine parks the task until a line has
// arrived, and sends the replies gathered so far before it waits.
func handle(t *lwtask.Task, c *lwtask.Conn) {
	defer c.Close()
	for {
		line, err := c.ReadLine(t)
		if err != nil { // io.EOF, lwtask.ErrLineTooLong, a reset...
			c.Flush(t)
			return
		}
		n, ok := parseRequest(line)
		if !ok {
			c.WriteString(t, "400 WE ONLY SERVE SPAM\n")
			continue
		}
		c.WriteString(t, "100 SPAM FOLLOWS\n")
		for range n {
			// An error means the client has gone: stop, or a huge n
			// would keep the task busy for ever.
			if _, err := c.WriteString(t, "spam glorious spam\n"); err != nil {
				return
			}
		}
	}
}

// parseRequest is the essay's parse_request: "SPAM" and a whole number
// above zero, split at ASCII white space as the essay's Python splits.
func parseRequest(line []byte) (n int, ok bool) {
	fields := bytes.FieldsFunc(line, func(r rune) bool { return strings.ContainsRune(" \t\n\v\f\r", r) })
	if len(fields) != 2 || string(fields[0]) != "SPAM" {
		return 0, false
	}
	digits := strings.TrimPrefix(string(fields[1]), "+")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	// Digits only, so Atoi fails only on a number too large for an int,
	// and then gives the largest: spam until the client has had enough.
	n, _ = strconv.Atoi(digits)
	return n, n > 0
}
