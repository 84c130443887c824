package lwtask_test

import "golang.org/x/sys/unix"

// gettid returns the calling thread's ID.
func gettid() int { return unix.Gettid() }
