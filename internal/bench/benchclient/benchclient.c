// benchclient is the client side of `shmfs bench`: one measurement per
// process, plain syscalls only, so what it measures is what any program in
// any language gets. shmfs bench compiles it with gcc at run time.
//
// usage: benchclient OP ARGS...   (see main below)
//
// A TARGET is a file path (a shmfs segment or a /dev/shm file) or "sysv"
// (a System V segment made with shmget(IPC_PRIVATE) for the run).
//
// Results are printed as key=value lines on stdout. When SHMFS_BENCH_MARK
// names a shmfs mount, every timed section is bracketed by a stat of
// MOUNT/.bench-mark-begin-<section> and MOUNT/.bench-mark-end-<section>,
// which show in the server's --debug log as LOOKUPs and let shmfs bench
// count the FUSE requests of the section.
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <linux/fuse.h>
#include <sched.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096

static const char *markDir;

static void die(const char *fmt, ...)
{
	int e = errno;
	va_list ap;
	fprintf(stderr, "benchclient: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", strerror(e));
	exit(1);
}

static double nowNs(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void mark(const char *edge, const char *section)
{
	char p[4096];
	struct stat st;
	if (!markDir)
		return;
	snprintf(p, sizeof p, "%s/.bench-mark-%s-%s", markDir, edge, section);
	stat(p, &st);
}

// section times one timed part of a measurement and reports its
// iterations, for the request counts of shmfs bench --rounds.
static double begin(const char *section)
{
	mark("begin", section);
	return nowNs();
}

static double end(const char *section, double t0, long iters)
{
	double t = nowNs() - t0;
	mark("end", section);
	printf("iters_%s=%ld\n", section, iters);
	return t;
}

static long num(const char *s)
{
	char *e;
	long v = strtol(s, &e, 0);
	if (*s == 0 || *e != 0 || v < 0) {
		errno = EINVAL;
		die("bad number %s", s);
	}
	return v;
}

static int isSysv(const char *target) { return strcmp(target, "sysv") == 0; }

// A mapping of a fresh segment of size bytes, and how to drop it.
struct seg {
	const char *path;
	int fd;
	int shmid;
	char *p;
	size_t size;
};

static void segCreate(struct seg *s, const char *target, size_t size)
{
	memset(s, 0, sizeof *s);
	s->size = size;
	s->fd = -1;
	s->shmid = -1;
	if (isSysv(target)) {
		s->shmid = shmget(IPC_PRIVATE, size, IPC_CREAT | 0600);
		if (s->shmid < 0)
			die("shmget %zu", size);
		return;
	}
	s->path = target;
	s->fd = open(target, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (s->fd < 0)
		die("open %s", target);
	if (ftruncate(s->fd, size) < 0)
		die("ftruncate %s", target);
}

static void segMap(struct seg *s)
{
	if (s->shmid >= 0) {
		s->p = shmat(s->shmid, NULL, 0);
		if (s->p == (void *)-1)
			die("shmat");
		return;
	}
	s->p = mmap(NULL, s->size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
	if (s->p == MAP_FAILED)
		die("mmap %s", s->path);
}

static void segDestroy(struct seg *s)
{
	if (s->shmid >= 0) {
		if (s->p)
			shmdt(s->p);
		shmctl(s->shmid, IPC_RMID, NULL);
		return;
	}
	if (s->p)
		munmap(s->p, s->size);
	close(s->fd);
	if (unlink(s->path) < 0)
		die("unlink %s", s->path);
}

static volatile uint64_t sink;

// mmap TARGET SIZE PASSES: sequential write then read of a warm mapping.
static void opMmap(char **a, int argc)
{
	struct seg s;
	size_t size = num(a[1]);
	long passes = num(a[2]);
	segCreate(&s, a[0], size);
	segMap(&s);
	memset(s.p, 1, size);
	double w = 0, r = 0;
	uint64_t sum = 0;
	for (long i = 0; i < passes; i++) {
		double t = begin("write");
		memset(s.p, (int)i + 2, size);
		w += end("write", t, 1);
		t = begin("read");
		const uint64_t *q = (const uint64_t *)s.p;
		for (size_t j = 0; j < size / 8; j++)
			sum += q[j];
		r += end("read", t, 1);
	}
	sink = sum;
	segDestroy(&s);
	printf("write_Bps=%.0f\nread_Bps=%.0f\nrw_Bps=%.0f\n", size * passes / w * 1e9,
	       size * passes / r * 1e9, 2.0 * size * passes / (w + r) * 1e9);
}

// touch TARGET SIZE: first write to every page of a fresh mapping.
static void opTouch(char **a, int argc)
{
	struct seg s;
	size_t size = num(a[1]);
	segCreate(&s, a[0], size);
	segMap(&s);
	long pages = size / PAGE;
	double t = begin("touch");
	for (long i = 0; i < pages; i++)
		s.p[i * PAGE] = 1;
	t = end("touch", t, pages);
	segDestroy(&s);
	printf("faults_per_s=%.0f\n", pages / t * 1e9);
}

// rw PATH SIZE BLOCK PASSES: pwrite then pread of the whole file in
// blocks, after a first pwrite pass that allocates the pages.
static void opRW(char **a, int argc)
{
	const char *path = a[0];
	size_t size = num(a[1]), block = num(a[2]);
	long passes = num(a[3]);
	char *buf = aligned_alloc(PAGE, block);
	memset(buf, 7, block);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		die("open %s", path);
	for (size_t off = 0; off < size; off += block)
		if (pwrite(fd, buf, block, off) != (ssize_t)block)
			die("pwrite %s", path);
	long n = passes * (size / block);
	double t = begin("pwrite");
	for (long i = 0; i < passes; i++)
		for (size_t off = 0; off < size; off += block)
			if (pwrite(fd, buf, block, off) != (ssize_t)block)
				die("pwrite %s", path);
	double w = end("pwrite", t, n);
	t = begin("pread");
	for (long i = 0; i < passes; i++)
		for (size_t off = 0; off < size; off += block)
			if (pread(fd, buf, block, off) != (ssize_t)block)
				die("pread %s", path);
	double r = end("pread", t, n);
	close(fd);
	if (unlink(path) < 0)
		die("unlink %s", path);
	printf("pwrite_Bps=%.0f\npread_Bps=%.0f\n", size * passes / w * 1e9, size * passes / r * 1e9);
}

// attach TARGET N: N cycles of open + mmap + touch one page + munmap +
// close of an existing segment (shmat + touch + shmdt for sysv).
static void opAttach(char **a, int argc)
{
	struct seg s;
	long n = num(a[1]);
	segCreate(&s, a[0], PAGE);
	double t;
	if (s.shmid >= 0) {
		t = begin("attach");
		for (long i = 0; i < n; i++) {
			volatile char *p = shmat(s.shmid, NULL, 0);
			if (p == (void *)-1)
				die("shmat");
			*p = (char)i;
			shmdt((void *)p);
		}
	} else {
		close(s.fd);
		t = begin("attach");
		for (long i = 0; i < n; i++) {
			int fd = open(s.path, O_RDWR);
			if (fd < 0)
				die("open %s", s.path);
			volatile char *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			if (p == MAP_FAILED)
				die("mmap %s", s.path);
			*p = (char)i;
			munmap((void *)p, PAGE);
			close(fd);
		}
	}
	t = end("attach", t, n);
	if (s.shmid < 0)
		s.fd = open(s.path, O_RDWR);
	segDestroy(&s);
	printf("ns_per_op=%.1f\n", t / n);
}

static void name(char *buf, size_t len, const char *dir, long key)
{
	snprintf(buf, len, "%s/0x%08lx", dir, key);
}

// create DIR|sysv BASEKEY N [keep]: create + size 4 KiB + close of N
// segments named by consecutive keys, then unlink them all (shmget and
// IPC_RMID for sysv). keep leaves them, to fill a table.
static void opCreate(char **a, int argc)
{
	const char *dir = a[0];
	long base = num(a[1]), n = num(a[2]);
	int keep = argc > 3 && strcmp(a[3], "keep") == 0;
	char p[4096];
	int *ids = NULL;
	double t;
	if (isSysv(dir)) {
		ids = calloc(n, sizeof *ids);
		t = begin("create");
		for (long i = 0; i < n; i++) {
			ids[i] = shmget((key_t)(base + i), PAGE, IPC_CREAT | IPC_EXCL | 0600);
			if (ids[i] < 0)
				die("shmget key 0x%08lx", base + i);
		}
	} else {
		t = begin("create");
		for (long i = 0; i < n; i++) {
			name(p, sizeof p, dir, base + i);
			int fd = open(p, O_RDWR | O_CREAT | O_EXCL, 0600);
			if (fd < 0)
				die("open %s", p);
			if (ftruncate(fd, PAGE) < 0)
				die("ftruncate %s", p);
			close(fd);
		}
	}
	t = end("create", t, n);
	printf("create_ns=%.1f\n", t / n);
	if (keep)
		return;
	t = begin("unlink");
	for (long i = 0; i < n; i++) {
		if (ids) {
			if (shmctl(ids[i], IPC_RMID, NULL) < 0)
				die("IPC_RMID %d", ids[i]);
			continue;
		}
		name(p, sizeof p, dir, base + i);
		if (unlink(p) < 0)
			die("unlink %s", p);
	}
	t = end("unlink", t, n);
	printf("unlink_ns=%.1f\n", t / n);
}

// remove DIR BASEKEY N: unlink what create ... keep made.
static void opRemove(char **a, int argc)
{
	long base = num(a[1]), n = num(a[2]);
	char p[4096];
	for (long i = 0; i < n; i++) {
		name(p, sizeof p, a[0], base + i);
		if (unlink(p) < 0 && errno != ENOENT)
			die("unlink %s", p);
	}
}

// stat TARGET N: N stat()s of an existing segment (shmctl IPC_STAT for
// sysv). fstat TARGET N: N fstat()s of one open descriptor, which on shmfs
// is one GETATTR round trip each.
static void stat1(char **a, int useFd, const char *section)
{
	struct seg s;
	struct stat st;
	struct shmid_ds ds;
	long n = num(a[1]);
	segCreate(&s, a[0], PAGE);
	double t = begin(section);
	for (long i = 0; i < n; i++) {
		int r;
		if (s.shmid >= 0)
			r = shmctl(s.shmid, IPC_STAT, &ds);
		else if (useFd)
			r = fstat(s.fd, &st);
		else
			r = stat(s.path, &st);
		if (r < 0)
			die("stat %s", a[0]);
	}
	t = end(section, t, n);
	segDestroy(&s);
	printf("ns_per_op=%.1f\n", t / n);
}

static void opStat(char **a, int argc) { stat1(a, 0, "stat"); }
static void opFstat(char **a, int argc) { stat1(a, 1, "fstat"); }

// ls DIR: what ls -l does to a directory: read every entry and lstat it.
static void opLs(char **a, int argc)
{
	long n = 0;
	struct stat st;
	double t = begin("ls");
	DIR *d = opendir(a[0]);
	if (!d)
		die("opendir %s", a[0]);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' && (e->d_name[1] == 0 || (e->d_name[1] == '.' && e->d_name[2] == 0)))
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			die("lstat %s/%s", a[0], e->d_name);
		n++;
	}
	closedir(d);
	t = end("ls", t, n);
	printf("ns=%.0f\nentries=%ld\n", t, n);
}

// A message queue: a file of a shmfs msg/ table (write = msgsnd, read =
// msgrcv, in struct msgbuf framing) or a kernel queue.
struct queue {
	char path[4096];
	int fd;
	int id;
};

static void queueOpen(struct queue *q, const char *dir, long key, int create)
{
	q->fd = q->id = -1;
	if (isSysv(dir)) {
		q->id = msgget((key_t)key, create ? IPC_CREAT | IPC_EXCL | 0600 : 0);
		if (q->id < 0)
			die("msgget key 0x%08lx", key);
		return;
	}
	name(q->path, sizeof q->path, dir, key);
	/* ",recv": a queue's own name only copies on read (docs/msg.md). */
	char rname[sizeof q->path + 8];
	snprintf(rname, sizeof rname, "%s,recv", q->path);
	q->fd = open(rname, O_RDWR | (create ? O_CREAT | O_EXCL : 0), 0600);
	if (q->fd < 0)
		die("open %s", q->path);
}

// A struct msgbuf: mtype, then the text.
struct message {
	long mtype;
	char mtext[PAGE];
};

static void queueSend(struct queue *q, struct message *m, size_t len)
{
	if (q->id >= 0) {
		if (msgsnd(q->id, m, len, 0) < 0)
			die("msgsnd");
		return;
	}
	if (write(q->fd, m, sizeof m->mtype + len) != (ssize_t)(sizeof m->mtype + len))
		die("write %s", q->path);
}

static void queueRecv(struct queue *q, struct message *m, size_t len)
{
	if (q->id >= 0) {
		if (msgrcv(q->id, m, len, 0, 0) != (ssize_t)len)
			die("msgrcv");
		return;
	}
	if (read(q->fd, m, sizeof m->mtype + len) != (ssize_t)(sizeof m->mtype + len))
		die("read %s", q->path);
}

static void queueRemove(struct queue *q)
{
	if (q->id >= 0)
		msgctl(q->id, IPC_RMID, NULL);
	else if (unlink(q->path) < 0)
		die("unlink %s", q->path);
}

// A peer is the second process of a two-process measurement: it opens
// what it uses itself, and dies with its parent.
static pid_t peer(void)
{
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0)
		prctl(PR_SET_PDEATHSIG, SIGKILL);
	return pid;
}

static void reap(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		errno = ECHILD;
		die("the peer process failed");
	}
}

#define MSGLEN 64

// msgrtt DIR|sysv KEYBASE N: N round trips of a 64-byte message: sent on
// one queue, and answered by the peer on another.
static void opMsgRtt(char **a, int argc)
{
	long key = num(a[1]), n = num(a[2]);
	struct queue req, rep;
	static struct message m = {.mtype = 1};
	queueOpen(&req, a[0], key, 1);
	queueOpen(&rep, a[0], key + 1, 1);
	pid_t pid = peer();
	if (pid == 0) {
		queueOpen(&req, a[0], key, 0);
		queueOpen(&rep, a[0], key + 1, 0);
		for (long i = 0; i < n + 1; i++) {
			queueRecv(&req, &m, MSGLEN);
			queueSend(&rep, &m, MSGLEN);
		}
		exit(0);
	}
	queueSend(&req, &m, MSGLEN); // both sides up and warm
	queueRecv(&rep, &m, MSGLEN);
	double t = begin("msgrtt");
	for (long i = 0; i < n; i++) {
		queueSend(&req, &m, MSGLEN);
		queueRecv(&rep, &m, MSGLEN);
	}
	t = end("msgrtt", t, n);
	reap(pid);
	queueRemove(&req);
	queueRemove(&rep);
	printf("ns_per_op=%.1f\n", t / n);
}

// msgtput DIR|sysv KEYBASE N: N 64-byte messages one way, until the peer
// says it has received the last.
static void opMsgTput(char **a, int argc)
{
	long key = num(a[1]), n = num(a[2]);
	struct queue data, done;
	static struct message m = {.mtype = 1};
	queueOpen(&data, a[0], key, 1);
	queueOpen(&done, a[0], key + 1, 1);
	pid_t pid = peer();
	if (pid == 0) {
		queueOpen(&data, a[0], key, 0);
		queueOpen(&done, a[0], key + 1, 0);
		queueRecv(&data, &m, MSGLEN);
		queueSend(&done, &m, MSGLEN);
		for (long i = 0; i < n; i++)
			queueRecv(&data, &m, MSGLEN);
		queueSend(&done, &m, MSGLEN);
		exit(0);
	}
	queueSend(&data, &m, MSGLEN);
	queueRecv(&done, &m, MSGLEN);
	double t = begin("msgtput");
	for (long i = 0; i < n; i++)
		queueSend(&data, &m, MSGLEN);
	queueRecv(&done, &m, MSGLEN);
	t = end("msgtput", t, n);
	reap(pid);
	queueRemove(&data);
	queueRemove(&done);
	printf("msgs_per_s=%.0f\n", n / t * 1e9);
}

// A semaphore set of one semaphore: a file of a shmfs sem/ table (a write
// is one semop, in the binary form: struct shmfs_semop, then the sembufs)
// or a kernel set.
struct semset {
	char path[4096];
	int fd;
	int id;
};

static void semsetOpen(struct semset *s, const char *dir, long key, int create)
{
	s->fd = s->id = -1;
	if (isSysv(dir)) {
		s->id = semget((key_t)key, 1, create ? IPC_CREAT | IPC_EXCL | 0600 : 0);
		if (s->id < 0)
			die("semget key 0x%08lx", key);
		return;
	}
	name(s->path, sizeof s->path, dir, key);
	s->fd = open(s->path, O_RDWR | (create ? O_CREAT | O_EXCL : 0), 0600);
	if (s->fd < 0)
		die("open %s", s->path);
}

// semop of one operation on semaphore 0.
static void semsetOp(struct semset *s, short op)
{
	struct sembuf b = {.sem_num = 0, .sem_op = op, .sem_flg = 0};
	if (s->id >= 0) {
		if (semop(s->id, &b, 1) < 0)
			die("semop %d", op);
		return;
	}
	struct {
		char magic[4];
		uint32_t flags;
		int64_t sec, nsec;
		struct sembuf sops[1];
	} __attribute__((packed)) w = {.magic = {0, 'S', 'E', 'M'}, .sops = {b}};
	if (write(s->fd, &w, sizeof w) != (ssize_t)sizeof w)
		die("semop %d on %s", op, s->path);
}

static void semsetRemove(struct semset *s)
{
	if (s->id >= 0)
		semctl(s->id, 0, IPC_RMID);
	else if (unlink(s->path) < 0)
		die("unlink %s", s->path);
}

// sempair DIR|sysv KEY N: N uncontended lock (-1) and unlock (+1) pairs.
static void opSemPair(char **a, int argc)
{
	long n = num(a[2]);
	struct semset s;
	semsetOpen(&s, a[0], num(a[1]), 1);
	semsetOp(&s, 1);
	double t = begin("sempair");
	for (long i = 0; i < n; i++) {
		semsetOp(&s, -1);
		semsetOp(&s, 1);
	}
	t = end("sempair", t, n);
	semsetRemove(&s);
	printf("pair_ns=%.1f\n", t / n);
}

// sempp DIR|sysv KEYBASE N: N ping-pongs between two processes: each
// posts the other's set and waits on its own.
static void opSemPingPong(char **a, int argc)
{
	long key = num(a[1]), n = num(a[2]);
	struct semset ping, pong;
	semsetOpen(&ping, a[0], key, 1);
	semsetOpen(&pong, a[0], key + 1, 1);
	pid_t pid = peer();
	if (pid == 0) {
		semsetOpen(&ping, a[0], key, 0);
		semsetOpen(&pong, a[0], key + 1, 0);
		for (long i = 0; i < n + 1; i++) {
			semsetOp(&ping, -1);
			semsetOp(&pong, 1);
		}
		exit(0);
	}
	semsetOp(&ping, 1); // both sides up and warm
	semsetOp(&pong, -1);
	double t = begin("sempp");
	for (long i = 0; i < n; i++) {
		semsetOp(&ping, 1);
		semsetOp(&pong, -1);
	}
	t = end("sempp", t, n);
	reap(pid);
	semsetRemove(&ping);
	semsetRemove(&pong);
	printf("pp_ns=%.1f\n", t / n);
}

// The floors: what any FUSE server pays, measured on a server that does
// nothing else.

static void pin(long cpu)
{
	cpu_set_t set;
	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) < 0)
		die("sched_setaffinity %ld", cpu);
}

static int fuseFd;

static void fuseReply(struct fuse_in_header *in, int err, void *p, size_t n)
{
	struct fuse_out_header h = {.len = sizeof h + (err ? 0 : n), .error = err, .unique = in->unique};
	struct iovec iov[2] = {{&h, sizeof h}, {p, err ? 0 : n}};
	if (writev(fuseFd, iov, 2) < 0 && errno != ENOENT)
		die("writev /dev/fuse");
}

static void fuseAttr(struct fuse_attr *a, uint64_t ino)
{
	memset(a, 0, sizeof *a);
	a->ino = ino;
	a->mode = ino == FUSE_ROOT_ID ? S_IFDIR | 0755 : S_IFREG | 0644;
	a->nlink = 1;
	a->size = PAGE;
}

// rawfuse MOUNTPOINT: a minimal single-threaded FUSE server with one file,
// "f", whose attributes are never cached: every fstat of it is one
// GETATTR round trip and nothing else. It serves until unmounted.
static void opRawFuse(char **a, int argc)
{
	static char buf[FUSE_MIN_READ_BUFFER + (1 << 20)];
	char opts[256];
	fuseFd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fuseFd < 0)
		die("open /dev/fuse");
	snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=0,group_id=0", fuseFd);
	if (mount("benchfloor", a[0], "fuse.benchfloor", MS_NOSUID | MS_NODEV, opts) < 0)
		die("mount %s", a[0]);
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		ssize_t n = read(fuseFd, buf, sizeof buf);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == ENOENT)
				continue;
			exit(0); // ENODEV: unmounted
		}
		struct fuse_in_header *in = (void *)buf;
		void *arg = buf + sizeof *in;
		switch (in->opcode) {
		case FUSE_INIT: {
			struct fuse_init_in *ii = arg;
			struct fuse_init_out o = {.major = FUSE_KERNEL_VERSION, .minor = FUSE_KERNEL_MINOR_VERSION,
						  .max_readahead = ii->max_readahead, .max_write = PAGE,
						  .max_background = 16, .congestion_threshold = 12};
			fuseReply(in, 0, &o, sizeof o);
			break;
		}
		case FUSE_LOOKUP: {
			struct fuse_entry_out o = {0};
			if (in->nodeid != FUSE_ROOT_ID || strcmp(arg, "f") != 0) {
				fuseReply(in, -ENOENT, 0, 0);
				break;
			}
			o.nodeid = 2;
			fuseAttr(&o.attr, 2);
			fuseReply(in, 0, &o, sizeof o);
			break;
		}
		case FUSE_GETATTR: {
			struct fuse_attr_out o = {0};
			fuseAttr(&o.attr, in->nodeid);
			fuseReply(in, 0, &o, sizeof o);
			break;
		}
		case FUSE_OPEN:
		case FUSE_OPENDIR: {
			struct fuse_open_out o = {.fh = 1};
			fuseReply(in, 0, &o, sizeof o);
			break;
		}
		case FUSE_RELEASE:
		case FUSE_RELEASEDIR:
			fuseReply(in, 0, 0, 0);
			break;
		case FUSE_FORGET:
		case FUSE_BATCH_FORGET:
		case FUSE_INTERRUPT:
			break;
		default:
			fuseReply(in, -ENOSYS, 0, 0);
		}
	}
}

// rtt PATH N CPU: N statx(AT_STATX_FORCE_SYNC)s of one open descriptor
// of an existing file, pinned to CPU unless it is -1: on FUSE, each is one
// GETATTR round trip, whatever attributes the kernel has cached.
static void opRtt(char **a, int argc)
{
	struct statx stx;
	long n = num(a[1]);
	pin(strcmp(a[2], "-1") == 0 ? -1 : num(a[2]));
	int fd = open(a[0], O_RDONLY);
	if (fd < 0)
		die("open %s", a[0]);
	double t = begin("rtt");
	/* AT_STATX_FORCE_SYNC: one GETATTR each, whatever the kernel caches. */
	for (long i = 0; i < n; i++)
		if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, &stx) < 0)
			die("statx %s", a[0]);
	t = end("rtt", t, n);
	close(fd);
	printf("ns_per_op=%.1f\n", t / n);
}

// The passthrough ioctls of linux/fuse.h 7.40, which older headers lack.
struct benchBackingMap {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};
#define BENCH_BACKING_OPEN _IOW(229, 1, struct benchBackingMap)
#define BENCH_BACKING_CLOSE _IOW(229, 2, uint32_t)

// backing PID FD N: N registrations and unregistrations of a memfd as a
// passthrough backing file on the /dev/fuse descriptor FD of server PID
// (taken with pidfd_getfd): what a server pays per open and release when
// it does not keep the backing file registered.
static void opBacking(char **a, int argc)
{
	long n = num(a[2]);
	int pfd = syscall(SYS_pidfd_open, (pid_t)num(a[0]), 0);
	if (pfd < 0)
		die("pidfd_open %s", a[0]);
	int fd = syscall(SYS_pidfd_getfd, pfd, (int)num(a[1]), 0);
	if (fd < 0)
		die("pidfd_getfd %s %s", a[0], a[1]);
	struct benchBackingMap m = {.fd = memfd_create("benchbacking", MFD_CLOEXEC)};
	double t = nowNs();
	for (long i = 0; i < n; i++) {
		int id = ioctl(fd, BENCH_BACKING_OPEN, &m);
		if (id < 0)
			die("FUSE_DEV_IOC_BACKING_OPEN");
		uint32_t u = id;
		if (ioctl(fd, BENCH_BACKING_CLOSE, &u) < 0)
			die("FUSE_DEV_IOC_BACKING_CLOSE");
	}
	t = nowNs() - t;
	printf("ns_per_op=%.1f\n", t / n);
}

// The kernel mirror: a segment made with shmget, in the client's own IPC
// namespace, used either through MOUNT/kernel/self/shm/0x<key> (open +
// mmap MAP_SHARED) or through shmat. DIR is the mirror's shm directory or
// "sysv". Sections are named k* so that they never add to the others'.
static void kernelSeg(struct seg *s, const char *dir, long key, size_t size)
{
	static char p[4096];
	memset(s, 0, sizeof *s);
	s->size = size;
	s->fd = -1;
	s->shmid = shmget((key_t)key, size, IPC_CREAT | IPC_EXCL | 0600);
	if (s->shmid < 0)
		die("shmget key 0x%08lx", key);
	if (isSysv(dir))
		return;
	name(p, sizeof p, dir, key);
	s->path = p;
}

static char *kernelMap(struct seg *s)
{
	char *p;
	if (!s->path) {
		p = shmat(s->shmid, NULL, 0);
		if (p == (void *)-1)
			die("shmat");
		return p;
	}
	int fd = open(s->path, O_RDWR);
	if (fd < 0)
		die("open %s", s->path);
	p = mmap(NULL, s->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("mmap %s", s->path);
	close(fd);
	return p;
}

static void kernelUnmap(struct seg *s, char *p)
{
	if (!s->path)
		shmdt(p);
	else
		munmap(p, s->size);
}

// kmmap DIR|sysv KEY SIZE PASSES: opMmap's passes over a shmget segment,
// mapped through the mirror's file or attached with shmat.
static void opKernelMmap(char **a, int argc)
{
	struct seg s;
	size_t size = num(a[2]);
	long passes = num(a[3]);
	kernelSeg(&s, a[0], num(a[1]), size);
	char *p = kernelMap(&s);
	memset(p, 1, size);
	double w = 0, r = 0;
	uint64_t sum = 0;
	for (long i = 0; i < passes; i++) {
		double t = begin("kwrite");
		memset(p, (int)i + 2, size);
		w += end("kwrite", t, 1);
		t = begin("kread");
		const uint64_t *q = (const uint64_t *)p;
		for (size_t j = 0; j < size / 8; j++)
			sum += q[j];
		r += end("kread", t, 1);
	}
	sink = sum;
	kernelUnmap(&s, p);
	if (shmctl(s.shmid, IPC_RMID, NULL) < 0)
		die("IPC_RMID %d", s.shmid);
	printf("write_Bps=%.0f\nread_Bps=%.0f\nrw_Bps=%.0f\n", size * passes / w * 1e9,
	       size * passes / r * 1e9, 2.0 * size * passes / (w + r) * 1e9);
}

// kattach DIR|sysv KEY N: N cycles of open + mmap 4 KiB + touch + munmap
// + close of the mirror's file of a shmget segment, by full path, or of
// shmat + touch + shmdt.
static void opKernelAttach(char **a, int argc)
{
	struct seg s;
	long n = num(a[2]);
	kernelSeg(&s, a[0], num(a[1]), PAGE);
	double t = begin("kattach");
	for (long i = 0; i < n; i++) {
		volatile char *p = kernelMap(&s);
		*p = (char)i;
		kernelUnmap(&s, (char *)p);
	}
	t = end("kattach", t, n);
	if (shmctl(s.shmid, IPC_RMID, NULL) < 0)
		die("IPC_RMID %d", s.shmid);
	printf("attach_ns=%.1f\n", t / n);
}

static const struct {
	const char *name;
	int args;
	void (*run)(char **a, int argc);
} ops[] = {
	{"mmap", 3, opMmap},     {"touch", 2, opTouch}, {"rw", 4, opRW},
	{"attach", 2, opAttach}, {"create", 3, opCreate}, {"remove", 3, opRemove},
	{"stat", 2, opStat},     {"fstat", 2, opFstat}, {"ls", 1, opLs},
	{"rawfuse", 1, opRawFuse}, {"rtt", 3, opRtt},   {"backing", 3, opBacking},
	{"msgrtt", 3, opMsgRtt},   {"msgtput", 3, opMsgTput},
	{"sempair", 3, opSemPair}, {"sempp", 3, opSemPingPong},
	{"kmmap", 4, opKernelMmap}, {"kattach", 3, opKernelAttach},
};

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: benchclient OP ARGS...\n");
		return 2;
	}
	markDir = getenv("SHMFS_BENCH_MARK");
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		if (strcmp(argv[1], ops[i].name) != 0)
			continue;
		if (argc - 2 < ops[i].args) {
			fprintf(stderr, "benchclient %s: need %d arguments\n", argv[1], ops[i].args);
			return 2;
		}
		ops[i].run(argv + 2, argc - 2);
		fflush(stdout);
		return 0;
	}
	fprintf(stderr, "benchclient: unknown op %s\n", argv[1]);
	return 2;
}
