//go:build !race

package lwtask_test

// raceEnabled says the race detector is on, which makes every frame bigger.
const raceEnabled = false
