package poller

// Event ports would be the best here, but they are one-shot and need
// re-arming on every event, which this package does not do yet.
var backends = []backendInfo{
	{"poll", openPoll, false},
	{"select", openSelect, false},
}
