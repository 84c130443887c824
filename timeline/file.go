package timeline

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// WriteFile writes events to the file at path in the format its extension
// names: ".json" for WriteJSON's Chrome trace, ".html" or ".htm" for
// WriteHTML's page titled title (the title is not used in a trace). It
// returns the first error of creating, writing and closing the file, and
// removes what it wrote if there was one, so that no half a file is left
// looking like a trace.
func WriteFile(path string, events []Event, title string) error {
	var write func(io.Writer) error
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".json":
		write = func(w io.Writer) error { return WriteJSON(w, events) }
	case ".html", ".htm":
		write = func(w io.Writer) error { return WriteHTML(w, events, title) }
	default:
		return fmt.Errorf("timeline: cannot write %s: extension %q is neither .json (a Chrome trace) nor .html or .htm (a page)", path, ext)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return errors.Join(err, os.Remove(path))
	}
	return nil
}
