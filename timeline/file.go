package timeline

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// WriteFile writes events to the file at path in the format its extension
// names: ".json" for WriteJSON's Chrome trace, ".html" or ".htm" for
// WriteHTML's page titled title (the title is not used in a trace).
//
// The file is written whole or not at all: the events go to a temporary
// file beside it, which is renamed to path once complete. A program that
// writes its trace again and again (on a signal, at exit) never leaves
// half a trace, nor loses the last whole one to a failed write.
func WriteFile(path string, events []Event, title string) error {
	var write func(io.Writer) error
	switch Format(path) {
	case "json":
		write = func(w io.Writer) error { return WriteJSON(w, events) }
	case "html":
		write = func(w io.Writer) error { return WriteHTML(w, events, title) }
	default:
		return fmt.Errorf("timeline: cannot write %s: extension %q is neither .json (a Chrome trace) nor .html or .htm (a page)", path, filepath.Ext(path))
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		// Renaming over it would say "file exists", which misleads.
		return &os.PathError{Op: "open", Path: path, Err: syscall.EISDIR}
	}
	dir, base := filepath.Split(path)
	f, err := os.CreateTemp(dir, "."+base+".*")
	if err != nil {
		return pathError("open", path, err) // the temporary name would only confuse
	}
	bw := bufio.NewWriter(f)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Chmod(0o644) // as os.Create would, where CreateTemp makes 0600
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if err = os.Rename(f.Name(), path); err != nil {
			err = pathError("write", path, err)
		}
	}
	if err != nil {
		return errors.Join(err, os.Remove(f.Name()))
	}
	return nil
}

// Format returns the format WriteFile writes path in, by its extension
// (of any case): "json", "html", or "" for neither. A command checks its
// flag with it before it starts rather than after the run.
func Format(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return "json"
	case ".html", ".htm":
		return "html"
	}
	return ""
}

// pathError says that op on path failed, with the system's reason.
func pathError(op, path string, err error) error {
	var pe *os.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		err = pe.Err
	case errors.As(err, &le):
		err = le.Err
	}
	return &os.PathError{Op: op, Path: path, Err: err}
}
