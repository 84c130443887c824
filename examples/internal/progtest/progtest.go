// Package progtest helps the examples' tests run an example as the real
// program a user runs with go run.
package progtest

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// Build compiles the package in the current directory (the test's own) and
// returns the path of the program, which is removed when the test ends.
func Build(t *testing.T) string {
	t.Helper()
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to build the program with:", err)
	}
	bin := filepath.Join(t.TempDir(), "example")
	out, err := exec.Command(gotool, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
