//go:build !linux

package lwtask_test

// gettid returns 0: the system does not say which thread a goroutine is on.
func gettid() int { return 0 }
