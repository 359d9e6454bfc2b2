package tests

import (
	"path/filepath"
	"strings"
	"testing"
)

// epollETSrc waits on a queue file with edge-triggered epoll while a
// child process sends n messages, one each time the parent asks (a byte
// on a pipe). Each message must give exactly one EPOLLIN event, which
// the parent reads; an epoll_wait before any message, and after each
// read, must time out.
const epollETSrc = `
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
	const char *path = argv[1];
	int n = atoi(argv[2]);
	char rname[4096];
	snprintf(rname, sizeof rname, "%s,recv", path); /* a receiving name (docs/msg.md) */
	int fd = open(rname, O_RDONLY | O_CREAT | O_NONBLOCK, 0600);
	if (fd < 0) { perror("open"); return 1; }
	int go[2];
	if (pipe(go) < 0) { perror("pipe"); return 1; }
	pid_t child = fork();
	if (child == 0) {
		close(go[1]);
		int w = open(path, O_WRONLY);
		if (w < 0) { perror("child open"); _exit(1); }
		char c;
		for (int i = 0; i < n && read(go[0], &c, 1) == 1; i++) {
			struct { int64_t mtype; char text[16]; } m = { 1, "" };
			int len = snprintf(m.text, sizeof m.text, "m%d", i);
			if (write(w, &m, 8 + len) < 0) { perror("child write"); _exit(1); }
		}
		_exit(0);
	}
	close(go[0]);
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.fd = fd };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) { perror("epoll_ctl"); return 1; }
	struct epoll_event got[4];
	int early = epoll_wait(ep, got, 4, 300);
	int events = 0, extra = 0, reads = 0;
	for (int i = 0; i < n; i++) {
		if (write(go[1], "x", 1) != 1) { perror("go"); return 1; }
		int k = epoll_wait(ep, got, 4, 10000);
		if (k == 1 && (got[0].events & EPOLLIN)) events++;
		char buf[64];
		ssize_t r = read(fd, buf, sizeof buf);
		if (r > 8 && strncmp(buf + 8, "m", 1) == 0) reads++;
		else fprintf(stderr, "read %zd: %s\n", r, strerror(errno));
		extra += epoll_wait(ep, got, 4, 100);
	}
	waitpid(child, NULL, 0);
	printf("early %d events %d reads %d extra %d\n", early, events, reads, extra);
	return 0;
}
`

// TestPollMsgEpollET: edge-triggered epoll on a queue file gets one
// event per message, none before the first and none between.
func TestPollMsgEpollET(t *testing.T) {
	mnt := mountShmfs(t)
	bin := buildC(t, "epollet", epollETSrc)
	out, err := runCmd(t, nil, bin, filepath.Join(mnt, "default", "msg", "0x00001304"), "5")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(out), "early 0 events 5 reads 5 extra 0"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
