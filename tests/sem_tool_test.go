package tests

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// semToolSrc is a C program that drives a semaphore set's file as an
// application would: text and binary writes, a mutex guarding a shared
// segment, a lock held until the process is killed, a wait interrupted
// by a signal. Each command prints "ok" or the name of the errno.
const semToolSrc = `#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <unistd.h>

/* The binary form of a write to a set's file (docs/sem.md). */
struct shmfs_semop {
	char     magic[4];      /* "\0SEM" */
	uint32_t flags;         /* 1: the timeout applies (semtimedop) */
	int64_t  tv_sec;
	int64_t  tv_nsec;
	struct sembuf sops[];
};

static int report(ssize_t r) {
	if (r < 0) {
		printf("%s\n", strerrorname_np(errno));
		return 1;
	}
	printf("ok\n");
	return 0;
}

static void on_signal(int sig) { (void)sig; }

int main(int argc, char **argv) {
	if (argc < 3) return 2;
	const char *cmd = argv[1], *path = argv[2];
	setvbuf(stdout, NULL, _IONBF, 0);
	if (!strcmp(cmd, "op")) {            /* op FILE TEXT */
		int fd = open(path, O_WRONLY);
		if (fd < 0) return report(-1);
		return report(write(fd, argv[3], strlen(argv[3])));
	}
	if (!strcmp(cmd, "bop")) {           /* bop FILE [-t SEC NSEC] NUM OP FLG... */
		int i = 3;
		size_t n = 0;
		struct shmfs_semop *req = calloc(1, sizeof *req + argc * sizeof(struct sembuf));
		memcpy(req->magic, "\0SEM", 4);
		if (argc > 5 && !strcmp(argv[3], "-t")) {
			req->flags = 1;
			req->tv_sec = atoll(argv[4]);
			req->tv_nsec = atoll(argv[5]);
			i = 6;
		}
		for (; i + 2 < argc; i += 3, n++) {
			req->sops[n].sem_num = atoi(argv[i]);
			req->sops[n].sem_op = atoi(argv[i + 1]);
			req->sops[n].sem_flg = atoi(argv[i + 2]);
		}
		int fd = open(path, O_WRONLY);
		if (fd < 0) return report(-1);
		return report(write(fd, req, sizeof *req + n * sizeof(struct sembuf)));
	}
	if (!strcmp(cmd, "mutex")) {         /* mutex FILE SEGMENT ROUNDS */
		int fd = open(path, O_RDWR), sfd = open(argv[3], O_RDWR);
		if (fd < 0 || sfd < 0) return report(-1);
		volatile uint64_t *counter = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);
		if (counter == MAP_FAILED) return report(-1);
		char lock[sizeof(struct shmfs_semop) + sizeof(struct sembuf)];
		struct shmfs_semop hdr = {{0, 'S', 'E', 'M'}, 0, 0, 0};
		struct sembuf down = {0, -1, SEM_UNDO};
		memcpy(lock, &hdr, sizeof hdr);
		memcpy(lock + sizeof hdr, &down, sizeof down);
		for (int i = atoi(argv[4]); i > 0; i--) {
			if (write(fd, lock, sizeof lock) != sizeof lock) return report(-1);
			uint64_t v = *counter;
			sched_yield();
			*counter = v + 1;
			if (write(fd, "0 1 SEM_UNDO", 12) != 12) return report(-1);
		}
		return report(0);
	}
	if (!strcmp(cmd, "hold")) {          /* hold FILE: lock with SEM_UNDO, wait for death */
		int fd = open(path, O_WRONLY);
		if (fd < 0 || write(fd, "0 -1 SEM_UNDO", 13) < 0) return report(-1);
		printf("held\n");
		for (;;) pause();
	}
	if (!strcmp(cmd, "intr")) {          /* intr FILE TEXT: a write that SIGUSR1 interrupts */
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_signal;   /* no SA_RESTART: semop is never restarted anyway */
		sigaction(SIGUSR1, &sa, NULL);
		int fd = open(path, O_WRONLY);
		if (fd < 0) return report(-1);
		return report(write(fd, argv[3], strlen(argv[3])));
	}
	return 2;
}
`

// semTool builds the C driver once for the run.
func semTool(t testing.TB) string { return buildC(t, "semtool", semToolSrc) }

// semRun runs the driver to its end and returns its one-line answer.
func semRun(t testing.TB, args ...string) string {
	t.Helper()
	out, _ := runCmd(t, nil, semTool(t), args...)
	return strings.TrimSpace(out)
}

// semProc is a driver running in the background.
type semProc struct {
	cmd  *exec.Cmd
	out  *bufio.Reader
	done chan struct{}
	res  string
}

// semStart starts the driver and ends it with the test. With ready
// given, it returns once the driver has printed that line.
func semStart(t testing.TB, ready string, args ...string) *semProc {
	t.Helper()
	cmd := exec.Command(semTool(t), args...)
	cmd.Stderr = os.Stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &semProc{cmd: cmd, out: bufio.NewReader(pipe), done: make(chan struct{})}
	if ready != "" {
		line, err := p.out.ReadString('\n')
		if strings.TrimSpace(line) != ready {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("%v: %q, %v; want %q", cmd.Args, line, err, ready)
		}
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	go func() {
		rest, _ := io.ReadAll(p.out)
		p.res = strings.TrimSpace(string(rest))
		cmd.Wait()
		close(p.done)
	}()
	return p
}

// result waits for the driver to end and returns what it printed.
func (p *semProc) result(t testing.TB) string {
	t.Helper()
	select {
	case <-p.done:
		return p.res
	case <-time.After(30 * time.Second):
		t.Fatalf("%v still running after 30s", p.cmd.Args)
		return ""
	}
}

// running reports whether the driver has not ended.
func (p *semProc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (p *semProc) signal(sig syscall.Signal) { p.cmd.Process.Signal(sig) }

// semCtl writes one command to a sem/ctl file and reads its answer back
// from the same handle; err is the errno of the write.
func semCtl(t testing.TB, ctl, command string) (string, error) {
	t.Helper()
	f, err := os.OpenFile(ctl, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte(command + "\n")); err != nil {
		return "", err.(*os.PathError).Err
	}
	b := make([]byte, 4096)
	n, _ := f.ReadAt(b, 0)
	return string(b[:n]), nil
}

// semCtlOK is semCtl that must succeed.
func semCtlOK(t testing.TB, ctl, command string) string {
	t.Helper()
	out, err := semCtl(t, ctl, command)
	if err != nil {
		t.Fatalf("%s: %v", command, err)
	}
	return out
}

// semCount is GETNCNT (or GETZCNT when zero) of one semaphore.
func semCount(t testing.TB, ctl, set string, num int, zero bool) string {
	t.Helper()
	cmd := "GETNCNT"
	if zero {
		cmd = "GETZCNT"
	}
	return strings.TrimSpace(semCtlOK(t, ctl, fmt.Sprintf("%s %s %d", cmd, filepath.Base(set), num)))
}

// semWaiters waits until n processes sleep on semaphore num for a
// decrement.
func semWaiters(t testing.TB, ctl, set string, num, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d waiters on %s[%d]", n, set, num), func() bool {
		return semCount(t, ctl, set, num, false) == fmt.Sprint(n)
	})
}

// semValues reads a set's file.
func semValues(t testing.TB, set string) string {
	t.Helper()
	b, err := os.ReadFile(set)
	if err != nil {
		t.Fatalf("read %s: %v", set, err)
	}
	return strings.TrimSpace(string(b))
}

// semPython is the system's python3, which every user may run.
func semPython() string {
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	return "python3"
}
