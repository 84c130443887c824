// Command readme is the spam server of README.md's event loop section,
// kept as a program of its own so that go vet compiles it and its tests run
// it: TestREADME checks that README.md shows main.go byte for byte. Edit
// both together. cmd/spamserver is the full server.
package main
