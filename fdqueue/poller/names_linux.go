package poller

var backends = []backend{
	{"epoll", openEpoll},
	{"poll", openPoll},
	{"select", openSelect},
}
