//go:build race

package main

// raceEnabled makes the tests build the server with the race detector too.
const raceEnabled = true
