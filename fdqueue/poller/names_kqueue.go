//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package poller

var backends = []backendInfo{
	{"kqueue", openKqueue, true},
	{"poll", openPoll, false},
	{"select", openSelect, false},
}
