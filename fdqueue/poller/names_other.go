//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd || solaris)

package poller

// backends is empty where golang.org/x/sys/unix offers no way to wait;
// New then fails with a clear error instead of the package not building.
var backends []backend
