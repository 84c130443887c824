package lwtask_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"

	"github.com/lwtask/lwtask"
	"github.com/lwtask/lwtask/fdqueue/poller"
)

// FuzzReadLine feeds arbitrary bytes, in arbitrary pieces, through a pipe
// into Conn.ReadLine with a small MaxLine, and checks the lines against a
// plain splitter. maxLine 0 means the default; chunks gives the sizes of
// the writes, the reader running between them.
func FuzzReadLine(f *testing.F) {
	f.Add([]byte("one\ntwo\r\nthree"), uint8(8), []byte{1})
	f.Add([]byte("abcd\r\nabcde\r\n"), uint8(4), []byte{3, 0, 200})
	f.Fuzz(func(t *testing.T, data []byte, maxLine uint8, chunks []byte) {
		limit := int(maxLine)
		if limit == 0 {
			limit = lwtask.DefaultMaxLine
		}
		want := splitLines(data, limit)
		for _, name := range poller.Names() {
			got, err := readLinesThroughPipe(name, data, int(maxLine), chunks)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%s: MaxLine %d, chunks %v:\ngot  %q\nwant %q", name, maxLine, chunks, got, want)
			}
		}
	})
}

// splitLines is the reference: lines end at "\n", less one "\r" before it;
// a last line may have no ending; a line longer than limit stops the
// reading with ErrLineTooLong.
func splitLines(data []byte, limit int) []string {
	var out []string
	for len(data) > 0 {
		line, rest, found := bytes.Cut(data, []byte("\n"))
		if found {
			line = bytes.TrimSuffix(line, []byte("\r"))
		}
		if len(line) > limit {
			return append(out, "ErrLineTooLong")
		}
		out = append(out, string(line))
		data = rest
	}
	return append(out, "EOF")
}

// readLinesThroughPipe writes data in chunks into a pipe on a fresh
// runtime and reads it back with ReadLine until an error.
func readLinesThroughPipe(backend string, data []byte, maxLine int, chunks []byte) ([]string, error) {
	rt, err := lwtask.New(lwtask.WithPoller(backend))
	if err != nil {
		return nil, err
	}
	defer rt.Close()
	rd, wr, err := rt.Pipe()
	if err != nil {
		return nil, err
	}
	defer wr.Close()
	c := lwtask.NewConn(rd)
	defer c.Close()
	c.MaxLine = maxLine

	var got []string
	var readErr error
	rt.Go("reader", func(tk *lwtask.Task) {
		for {
			line, err := c.ReadLine(tk)
			switch {
			case errors.Is(err, lwtask.ErrLineTooLong):
				got = append(got, "ErrLineTooLong")
				c.Close() // the writer may be parked on a full pipe
				return
			case err == io.EOF:
				got = append(got, "EOF")
				return
			case err != nil:
				readErr = err
				return
			}
			got = append(got, string(line))
		}
	})
	rt.Go("writer", func(tk *lwtask.Task) {
		defer wr.Close()
		for i := 0; len(data) > 0; i++ {
			n := len(data)
			if len(chunks) > 0 {
				n = min(n, 1+int(chunks[i%len(chunks)]))
			}
			if _, err := wr.Write(tk, data[:n]); err != nil {
				return // the reader has given up
			}
			data = data[n:]
			tk.Yield()
		}
	})
	if err := runBounded(rt); err != nil {
		return nil, err
	}
	if readErr != nil {
		return nil, fmt.Errorf("ReadLine: %w", readErr)
	}
	return got, nil
}
