//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package poller

var backends = []backend{
	{"kqueue", openKqueue},
	{"poll", openPoll},
	{"select", openSelect},
}
