//go:build !(linux || dragonfly)

package lwtask

// reusePort is false where SO_REUSEPORT lets several sockets bind an
// address but does not share its connections out among them (macOS, the
// other BSDs): there one loop accepts, and hands connections round robin.
var reusePort = false
