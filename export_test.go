package lwtask

// SetReusePort sets whether Loops listen in every loop (SO_REUSEPORT) or in
// loop 0 only, handing connections round robin, so that tests try both
// ways on any system. It returns a function that undoes it.
func SetReusePort(on bool) (undo func()) {
	old := reusePort
	reusePort = on
	return func() { reusePort = old }
}
