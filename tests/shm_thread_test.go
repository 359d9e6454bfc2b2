package tests

import (
	"os"
	"path/filepath"
	"testing"
)

const threadAttachSrc = `
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static const char *seg;
static char *map;
static pid_t tid;

/* The attach: open, size, map, close, then the thread ends. */
static void *attach(void *arg) {
	tid = gettid();
	int fd = open(seg, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || ftruncate(fd, 4096) < 0) { perror(seg); exit(1); }
	map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) { perror("mmap"); exit(1); }
	close(fd);
	return NULL;
}

static void copy(const char *from, const char *to) {
	char buf[65536];
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ssize_t n;
	if (in < 0 || out < 0) { perror("copy"); exit(1); }
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, n) != n) { perror("write"); exit(1); }
	close(in);
	close(out);
}

int main(int argc, char **argv) {
	seg = argv[1];
	pthread_t t;
	pthread_create(&t, NULL, attach, NULL);
	pthread_join(t, NULL);
	/* Until the thread is gone from /proc (bounded: 10 s). */
	char task[64];
	snprintf(task, sizeof task, "/proc/self/task/%d", tid);
	for (int i = 0; access(task, F_OK) == 0; i++) {
		if (i == 10000) { fprintf(stderr, "thread %d never ended\n", tid); return 1; }
		usleep(1000);
	}
	/* unlink counts the closes made before it. */
	if (unlink(seg) < 0) { perror("unlink"); return 1; }
	copy(argv[2], argv[3]);
	map[0] = 'x';
	munmap(map, 4096);
	return 0;
}
`

// TestShmMapOfEndedThread: a mapping belongs to the process, not to the
// thread that made it. A segment that a thread opened, mapped and closed
// before it ended stays attached while the process maps it (nattch 1, and
// an unlink leaves it SHM_DEST), as shm_close would count it, and goes
// once the process unmaps it.
func TestShmMapOfEndedThread(t *testing.T) {
	bin := buildC(t, "threadattach", threadAttachSrc)
	mnt := mountShmfs(t)
	ns := filepath.Join(mnt, "default")
	table := filepath.Join(ns, "sysvipc", "shm")
	copied := filepath.Join(t.TempDir(), "shm")
	if out, err := runCmd(t, nil, bin, filepath.Join(ns, "shm", "0x00000a21"), table, copied); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	rows := shmTable(t, copied)
	if len(rows) != 1 || rows[0].Nattch != 1 || rows[0].Perms != 0o1600 || rows[0].Key != 0 {
		t.Fatalf("unlinked while a thread's mapping lives: %+v; want one row, key 0, perms 1600, nattch 1", rows)
	}
	waitFor(t, "the segment to go with its last mapping", func() bool {
		data, err := os.ReadFile(table)
		return err == nil && len(shmTable(t, table)) == 0 && len(data) > 0
	})
}
