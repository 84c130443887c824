package poller

var backends = []backendInfo{
	{"epoll", openEpoll},
	{"poll", openPoll},
	{"select", openSelect},
}
