package timeline

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any leave a goroutine behind (the
// browser tests start and reap processes).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
