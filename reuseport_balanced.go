//go:build linux || dragonfly

package lwtask

// reusePort says that listeners bound to one address with SO_REUSEPORT
// share its connections out (Linux, DragonFly), so that each of several
// loops can accept its own.
var reusePort = true
