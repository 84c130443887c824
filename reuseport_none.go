//go:build solaris

package lwtask

import "errors"

// setReusePort fails: Solaris and illumos have no SO_REUSEPORT, and Loops
// listen on loop 0 only there (reusePort is false).
func setReusePort(int) error {
	return errors.New("SO_REUSEPORT is not available on this system")
}
