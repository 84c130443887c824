package timeline

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteFile: the format follows the extension; the file is whole or
// absent, never half written; a failed write leaves the last good file and
// no temporary file behind.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	events := sampleStream()
	for name, want := range map[string]string{"t.json": `{"traceEvents":[`, "t.html": "<!DOCTYPE html>", "T.HTM": "<!DOCTYPE html>"} {
		path := filepath.Join(dir, name)
		if err := WriteFile(path, events, "title"); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, err := os.ReadFile(path)
		if err != nil || !strings.HasPrefix(string(b), want) {
			t.Errorf("%s: %.40q, %v; want it to begin %q", name, b, err, want)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: %v, %v; want mode 0644", name, fi.Mode(), err)
		}
	}

	// Written again, over the last: the new one replaces it.
	path := filepath.Join(dir, "t.json")
	if err := WriteFile(path, nil, ""); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); strings.Contains(string(b), "t1 #1") {
		t.Errorf("the old trace is still there")
	}

	// A bad extension writes nothing.
	if err := WriteFile(filepath.Join(dir, "t.txt"), events, ""); err == nil || !strings.Contains(err.Error(), `".txt"`) {
		t.Errorf("a .txt file: %v, want an error naming the extension", err)
	}
	// A directory in the way, or none at all: an error naming the path.
	inTheWay := filepath.Join(dir, "d.json")
	if err := os.Mkdir(inTheWay, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{inTheWay, filepath.Join(dir, "missing", "t.json")} {
		err := WriteFile(p, events, "")
		var pe *fs.PathError
		if !errors.As(err, &pe) || pe.Path != p {
			t.Errorf("%s: %v, want a *fs.PathError for the path", p, err)
		}
	}
	if fi, err := os.Stat(inTheWay); err != nil || !fi.IsDir() {
		t.Errorf("the directory in the way: %v, %v", fi, err)
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "T.HTM d.json t.html t.json" {
		t.Errorf("the directory holds %s: want only the files written", got)
	}
}

func TestFormat(t *testing.T) {
	for path, want := range map[string]string{
		"a.json": "json", "a.JSON": "json", "dir.html/a.htm": "html", "A.HTML": "html",
		"a.txt": "", "a": "", "a.json.gz": "", "a.html~": "", ".json/a": "",
	} {
		if got := Format(path); got != want {
			t.Errorf("Format(%q) = %q, want %q", path, got, want)
		}
	}
}
