package poller

var backends = []backendInfo{
	{"epoll", openEpoll, true},
	{"poll", openPoll, false},
	{"select", openSelect, false},
}
