package tests

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// msgToolSrc is a C program that drives a message queue through shmfs
// files (or, for comparison, through the kernel's msgsnd and msgrcv), as
// docs/msg.md tells a C programmer to: a write of struct msgbuf is a
// msgsnd, a read of one is a msgrcv, options in the name select.
const msgToolSrc = `
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <unistd.h>

#ifndef MSG_COPY
#define MSG_COPY 040000
#endif

static struct { long mtype; char mtext[1 << 20]; } m;

static const char *ename(int e) {
	switch (e) {
	case EINVAL: return "EINVAL";
	case E2BIG: return "E2BIG";
	case ENOMSG: return "ENOMSG";
	case EAGAIN: return "EAGAIN";
	case EIDRM: return "EIDRM";
	case EINTR: return "EINTR";
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EEXIST: return "EEXIST";
	case ENOSPC: return "ENOSPC";
	}
	static char b[32];
	snprintf(b, sizeof b, "errno%d", e);
	return b;
}

static int sysv, qid = -1, unaligned;
static char unal[(1 << 20) + 3 * 4096];
static const char *path;

/* recvname is path as a receiving name: a queue's own name only copies
 * (docs/msg.md), ",recv" receives. */
static const char *recvname(void) {
	static char name[4096];
	snprintf(name, sizeof name, "%s,recv", path);
	return name;
}

/* fill puts text, or for "@N" N bytes of a pattern, in m.mtext. */
static size_t fill(const char *text) {
	if (text[0] == '@') {
		size_t n = strtoul(text + 1, NULL, 10);
		for (size_t i = 0; i < n; i++) m.mtext[i] = 'a' + i % 26;
		return n;
	}
	size_t n = strlen(text);
	memcpy(m.mtext, text, n);
	return n;
}

static int snd(long type, size_t len, int nowait) {
	m.mtype = type;
	if (sysv) return msgsnd(qid, &m, len, nowait ? IPC_NOWAIT : 0);
	int fd = open(path, O_WRONLY | (nowait ? O_NONBLOCK : 0));
	if (fd < 0) return -1;
	char *p = (char *)&m;
	if (unaligned) {
		/* The worst start for the kernel: the last byte of a page. */
		p = (char *)(((unsigned long)unal + 4095) & ~4095UL) + 4095;
		memcpy(p, &m, sizeof(long) + len);
	}
	ssize_t n = write(fd, p, sizeof(long) + len);
	int e = errno;
	close(fd);
	errno = e;
	if (n < 0) return -1;
	if (n != (ssize_t)(sizeof(long) + len)) { errno = EIO; return -1; }
	return 0;
}

static ssize_t rcv(long msgtyp, size_t size, int flags) {
	if (sysv) return msgrcv(qid, &m, size, msgtyp, flags);
	char name[4096];
	int k = snprintf(name, sizeof name, "%s,msgtyp=%ld", path, msgtyp);
	if (flags & IPC_NOWAIT) k += snprintf(name + k, sizeof name - k, ",IPC_NOWAIT");
	if (flags & MSG_EXCEPT) k += snprintf(name + k, sizeof name - k, ",MSG_EXCEPT");
	if (flags & MSG_NOERROR) k += snprintf(name + k, sizeof name - k, ",MSG_NOERROR");
	if (flags & MSG_COPY) k += snprintf(name + k, sizeof name - k, ",MSG_COPY");
	int fd = open(name, O_RDONLY);
	if (fd < 0) return -1;
	ssize_t n = read(fd, &m, sizeof(long) + size);
	int e = errno;
	close(fd);
	errno = e;
	if (n < 0) return -1;
	/* docs/msg.md: the end of a MSG_COPY handle is where msgrcv says ENOMSG. */
	if (n == 0 && (flags & MSG_COPY)) { errno = ENOMSG; return -1; }
	return n - sizeof(long);
}

static void show(ssize_t n) {
	if (n > 64) {
		unsigned long sum = 0;
		for (ssize_t i = 0; i < n; i++) sum = sum * 31 + (unsigned char)m.mtext[i];
		printf("%ld len=%zd sum=%lu\n", m.mtype, n, sum);
	} else {
		printf("%ld %.*s\n", m.mtype, (int)n, m.mtext);
	}
}

/* ops: snd:TYPE:TEXT[:n] and rcv:MSGTYP:SIZE:FLAGS, FLAGS letters of
 * n (IPC_NOWAIT) e (MSG_EXCEPT) t (MSG_NOERROR) c (MSG_COPY) or -;
 * sndu is snd from a buffer that starts on the last byte of a page. The
 * first line is the pid. */
static int ops(int argc, char **argv) {
	if (sysv) {
		qid = msgget((key_t)strtol(path, NULL, 0), IPC_CREAT | 0600);
		if (qid < 0) { perror("msgget"); return 1; }
	} else {
		int fd = open(path, O_RDONLY | O_CREAT, 0600);
		if (fd < 0) { perror(path); return 1; }
		close(fd);
	}
	printf("pid %d\n", (int)getpid());
	for (int i = 0; i < argc; i++) {
		char *op = strtok(argv[i], ":");
		char *a = strtok(NULL, ":"), *b = strtok(NULL, ":"), *c = strtok(NULL, ":");
		if (!op || !a || !b) { fprintf(stderr, "bad op %s\n", argv[i]); return 2; }
		if (strncmp(op, "snd", 3) == 0) {
			size_t len = fill(b);
			unaligned = strcmp(op, "sndu") == 0;
			if (snd(strtol(a, NULL, 10), len, c && strchr(c, 'n')) < 0) printf("%s\n", ename(errno));
			else printf("ok\n");
		} else {
			int flags = 0;
			if (c && strchr(c, 'n')) flags |= IPC_NOWAIT;
			if (c && strchr(c, 'e')) flags |= MSG_EXCEPT;
			if (c && strchr(c, 't')) flags |= MSG_NOERROR;
			if (c && strchr(c, 'c')) flags |= MSG_COPY;
			ssize_t n = rcv(strtol(a, NULL, 10), strtoul(b, NULL, 10), flags);
			if (n < 0) printf("%s\n", ename(errno));
			else show(n);
		}
	}
	return 0;
}

static volatile sig_atomic_t signals;
static void onsig(int s) { signals++; }

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3) { fprintf(stderr, "usage\n"); return 2; }
	const char *cmd = argv[1];
	struct sigaction sa = {0};
	sa.sa_handler = onsig; /* no SA_RESTART: a signal interrupts the call */
	sigaction(SIGUSR1, &sa, NULL);

	if (strcmp(cmd, "ops") == 0) {
		sysv = strcmp(argv[2], "sysv") == 0;
		path = argv[3];
		return ops(argc - 4, argv + 4);
	}
	path = argv[2];
	if (strcmp(cmd, "read") == 0) {
		/* read PATH [retry]: one msgrcv; with retry, EINTR is reported
		 * and the read tried again. */
		int retry = argc > 3;
		int fd = open(recvname(), O_RDONLY);
		if (fd < 0) { printf("open %s\n", ename(errno)); return 1; }
		for (;;) {
			ssize_t n = read(fd, &m, sizeof m);
			if (n < 0) {
				printf("%s\n", ename(errno));
				if (retry && errno == EINTR) continue;
				return 0;
			}
			show(n - sizeof(long));
			return 0;
		}
	}
	if (strcmp(cmd, "write") == 0) {
		/* write PATH TYPE TEXT: one msgsnd. */
		int fd = open(path, O_WRONLY);
		if (fd < 0) { printf("open %s\n", ename(errno)); return 1; }
		m.mtype = strtol(argv[3], NULL, 10);
		size_t len = fill(argv[4]);
		if (write(fd, &m, sizeof(long) + len) < 0) printf("%s\n", ename(errno));
		else printf("sent\n");
		return 0;
	}
	if (strcmp(cmd, "send") == 0 || strcmp(cmd, "recv") == 0) {
		/* send PATH N BASE: N messages, value v = BASE..BASE+N-1 as text,
		 * of type v%3+1. recv PATH N: N messages, printed as "type value";
		 * EINTR is retried and counted on stderr. */
		long n = strtol(argv[3], NULL, 10);
		int sending = cmd[0] == 's';
		int fd = open(sending ? path : recvname(), sending ? O_WRONLY : O_RDONLY);
		if (fd < 0) { perror(path); return 1; }
		long base = sending ? strtol(argv[4], NULL, 10) : 0;
		for (long i = 0; i < n; i++) {
			if (sending) {
				long v = base + i;
				m.mtype = v % 3 + 1;
				int len = sprintf(m.mtext, "%ld", v);
				if (write(fd, &m, sizeof(long) + len) < 0) {
					if (errno == EINTR) { i--; continue; }
					perror("write");
					return 1;
				}
			} else {
				ssize_t r = read(fd, &m, sizeof(long) + 64);
				if (r < 0) {
					if (errno == EINTR) { i--; continue; }
					perror("read");
					return 1;
				}
				printf("%ld %.*s\n", m.mtype, (int)(r - sizeof(long)), m.mtext);
			}
		}
		fprintf(stderr, "signals %d\n", (int)signals);
		return 0;
	}
	if (strcmp(cmd, "ping") == 0 || strcmp(cmd, "pong") == 0) {
		/* ping sends i as type 1 and waits for i+1 as type 2; pong
		 * answers each type 1 with its successor as type 2. Each side
		 * selects by type through the name. */
		long n = strtol(argv[3], NULL, 10);
		int ping = cmd[1] == 'i';
		char name[4096];
		snprintf(name, sizeof name, "%s,msgtyp=%d", path, ping ? 2 : 1);
		int rfd = open(name, O_RDONLY), wfd = open(path, O_WRONLY);
		if (rfd < 0 || wfd < 0) { perror("open"); return 1; }
		for (long i = 0; i < n; i++) {
			long v = i;
			if (!ping) {
				ssize_t r = read(rfd, &m, sizeof m);
				if (r < 0 || m.mtype != 1) { perror("pong read"); return 1; }
				m.mtext[r - sizeof(long)] = 0;
				v = strtol(m.mtext, NULL, 10) + 1;
			}
			m.mtype = ping ? 1 : 2;
			int len = sprintf(m.mtext, "%ld", v);
			if (write(wfd, &m, sizeof(long) + len) < 0) { perror("write"); return 1; }
			if (ping) {
				ssize_t r = read(rfd, &m, sizeof m);
				if (r < 0 || m.mtype != 2) { perror("ping read"); return 1; }
				m.mtext[r - sizeof(long)] = 0;
				if (strtol(m.mtext, NULL, 10) != i + 1) {
					fprintf(stderr, "ping %ld: got %s\n", i, m.mtext);
					return 1;
				}
			}
		}
		printf("done %ld\n", n);
		return 0;
	}
	fprintf(stderr, "unknown command %s\n", cmd);
	return 2;
}
`

// msgTool builds the C driver once per run.
func msgTool(t testing.TB) string { return buildC(t, "msgtool", msgToolSrc) }

// msgProc is a program started in the background, whose output lines can
// be waited for one by one.
type msgProc struct {
	t     testing.TB
	cmd   *exec.Cmd
	lines chan string
	errb  strings.Builder
	// exited is closed once the program has ended, with err its end.
	exited chan struct{}
	err    error
}

// msgStart runs a program in the background; it is killed when the test
// ends, if it has not ended.
func msgStart(t testing.TB, name string, args ...string) *msgProc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	p := &msgProc{t: t, lines: make(chan string, 1000), exited: make(chan struct{})}
	p.cmd = exec.CommandContext(ctx, name, args...)
	p.cmd.Stderr = &p.errb
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		io.Copy(io.Discard, out)
		close(p.lines)
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		cancel()
		<-p.exited
	})
	return p
}

// line waits for the next line of output.
func (p *msgProc) line() string {
	p.t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			<-p.exited
			p.t.Fatalf("%s ended without the expected line; stderr: %s", p.cmd.Path, p.errb.String())
		}
		return l
	case <-time.After(30 * time.Second):
		p.t.Fatalf("%s: no output in 30s", p.cmd.Path)
	}
	return ""
}

// wait waits for the program to end and returns the rest of its output.
func (p *msgProc) wait() []string {
	p.t.Helper()
	var rest []string
	for l := range p.lines {
		rest = append(rest, l)
	}
	<-p.exited
	if p.err != nil {
		p.t.Fatalf("%s: %v; stderr: %s", p.cmd.Path, p.err, p.errb.String())
	}
	return rest
}

// blocked waits until the process sits in a FUSE request that the
// server has not answered: a blocked msgsnd or msgrcv.
func (p *msgProc) blocked() {
	p.t.Helper()
	msgWaitBlocked(p.t, p.cmd.Process.Pid)
}

func msgWaitBlocked(t testing.TB, pid int) {
	t.Helper()
	wchan := filepath.Join("/proc", fmt.Sprint(pid), "wchan")
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(wchan)
		if err != nil {
			t.Fatalf("process %d: %v", pid, err)
		}
		// Blocked in the server, in a read or write: not in the lookup
		// or open before it, which a signal would not interrupt.
		if string(b) == "request_wait_answer" && inReadOrWrite(pid) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d never blocked in the server (wchan %q)", pid, b)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// inReadOrWrite reports whether pid is in read(2) or write(2) (or
// pread64, pwrite64), as /proc/PID/syscall shows (x86-64 numbers).
func inReadOrWrite(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", fmt.Sprint(pid), "syscall"))
	if err != nil {
		return false
	}
	nr, _, _ := strings.Cut(string(b), " ")
	return nr == "0" || nr == "1" || nr == "17" || nr == "18"
}
