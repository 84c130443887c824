//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package poller

var backends = []backendInfo{
	{"kqueue", openKqueue},
	{"poll", openPoll},
	{"select", openSelect},
}
