package tests

import "testing"

// fidelityTool runs one scenario of creates, attaches, removals, creator
// exits, shm_rmid_forced and *_next_id writes, on one of two backends:
//
//	fidelity kernel          the System V calls, in the caller's IPC namespace
//	fidelity files NSDIR     the files of a shmfs namespace directory
//
// and prints, after each step, the ids it got, the objects that survive
// (the columns of /proc/sysvipc/* that do not name a process or a time)
// and the IPC_INFO and *_INFO figures, the kernel's rendered in the very
// format of <table>/info. The two runs must print the same lines.
func fidelityTool(t testing.TB) string { return buildC(t, "fidelity", fidelitySrc) }

const fidelitySrc = `#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int files;         /* 1: through NSDIR's files */
static const char *nsdir;
static long page;

static void die(const char *what) { fprintf(stderr, "fidelity: %s: %s\n", what, strerror(errno)); exit(2); }

/* Objects the scenario made, by id: their keys, to name their files. */
struct obj { int id; int key; size_t size; void *addr; };
static struct obj shms[64], msgs[16], sems[16];
static int nshm, nmsg, nsem;

static struct obj *find(struct obj *a, int n, int id) {
	for (int i = 0; i < n; i++) if (a[i].id == id) return &a[i];
	fprintf(stderr, "fidelity: no object %d\n", id); exit(2);
}

static void name_of(int key, int id, char *buf, size_t n) {
	if (key) snprintf(buf, n, "0x%08x", key); else snprintf(buf, n, "private.%d", id);
}

/* ctl writes one command to NSDIR/kind/ctl and returns the id of its
 * result line, or -errno. */
static int ctl(const char *kind, const char *cmd) {
	char path[512], res[128];
	snprintf(path, sizeof path, "%s/%s/ctl", nsdir, kind);
	int fd = open(path, O_RDWR);
	if (fd < 0) die(path);
	if (write(fd, cmd, strlen(cmd)) < 0) { int e = errno; close(fd); return -e; }
	ssize_t r = pread(fd, res, sizeof res - 1, 0);
	close(fd);
	if (r < 0) die("ctl result");
	res[r] = 0;
	return atoi(res);
}

static int shm_create(int key, size_t size) {
	int id;
	if (files) {
		char cmd[128];
		if (key) snprintf(cmd, sizeof cmd, "IPC_CREAT key=0x%x size=%zu mode=0600", key, size);
		else snprintf(cmd, sizeof cmd, "IPC_CREAT key=IPC_PRIVATE size=%zu mode=0600", size);
		id = ctl("shm", cmd);
	} else {
		id = shmget(key, size, IPC_CREAT | 0600);
		if (id < 0) id = -errno;
	}
	if (id >= 0) shms[nshm++] = (struct obj){id, key, size, 0};
	return id;
}

/* shm_attach attaches and touches the first pages pages. */
static void shm_attach(int id, int pages) {
	struct obj *o = find(shms, nshm, id);
	if (files) {
		char path[512], name[64];
		name_of(o->key, id, name, sizeof name);
		snprintf(path, sizeof path, "%s/shm/%s", nsdir, name);
		int fd = open(path, O_RDWR);
		if (fd < 0) die(path);
		o->addr = mmap(0, o->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (o->addr == MAP_FAILED) die("mmap");
		close(fd);
	} else {
		o->addr = shmat(id, 0, 0);
		if (o->addr == (void *)-1) die("shmat");
	}
	/* The creators forked later must not inherit the attach: shmfs does
	 * not see a mapping inherited by fork (docs/shm.md). */
	if (madvise(o->addr, o->size, MADV_DONTFORK)) die("madvise");
	for (int i = 0; i < pages; i++) ((char *)o->addr)[i * page] = 1;
}

static void shm_detach(int id) {
	struct obj *o = find(shms, nshm, id);
	if (files) munmap(o->addr, o->size); else shmdt(o->addr);
	o->addr = 0;
}

static int rm(const char *kind, int id) {
	if (files) {
		char cmd[64];
		snprintf(cmd, sizeof cmd, "IPC_RMID id=%d", id);
		return ctl(kind, cmd) < 0 ? -1 : 0;
	}
	if (!strcmp(kind, "shm")) return shmctl(id, IPC_RMID, 0);
	if (!strcmp(kind, "msg")) return msgctl(id, IPC_RMID, 0);
	return semctl(id, 0, IPC_RMID);
}

static int msg_create(int key) {
	int id;
	if (files) {
		char cmd[128];
		if (key) snprintf(cmd, sizeof cmd, "IPC_CREAT key=0x%x mode=0600", key);
		else snprintf(cmd, sizeof cmd, "IPC_CREAT key=IPC_PRIVATE mode=0600");
		id = ctl("msg", cmd);
	} else {
		id = msgget(key, IPC_CREAT | 0600);
		if (id < 0) id = -errno;
	}
	if (id >= 0) msgs[nmsg++] = (struct obj){id, key, 0, 0};
	return id;
}

static struct { long mtype; char mtext[8192]; } mbuf;

static int msg_send(int id, long type, size_t n) {
	struct obj *o = find(msgs, nmsg, id);
	mbuf.mtype = type;
	memset(mbuf.mtext, 'm', n);
	if (!files) return msgsnd(id, &mbuf, n, IPC_NOWAIT) < 0 ? -errno : 0;
	char path[512], name[64];
	name_of(o->key, id, name, sizeof name);
	snprintf(path, sizeof path, "%s/msg/%s", nsdir, name);
	int fd = open(path, O_WRONLY | O_NONBLOCK);
	if (fd < 0) die(path);
	int r = write(fd, &mbuf, sizeof(long) + n) < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* msg_recv takes the first message and returns its length. */
static int msg_recv(int id) {
	struct obj *o = find(msgs, nmsg, id);
	if (!files) { int r = msgrcv(id, &mbuf, sizeof mbuf.mtext, 0, IPC_NOWAIT); return r < 0 ? -errno : r; }
	char path[512], name[64];
	name_of(o->key, id, name, sizeof name);
	snprintf(path, sizeof path, "%s/msg/%s,IPC_NOWAIT", nsdir, name);
	int fd = open(path, O_RDONLY);
	if (fd < 0) die(path);
	int r = read(fd, &mbuf, sizeof mbuf);
	r = r < 0 ? -errno : r - (int)sizeof(long);
	close(fd);
	return r;
}

static int sem_create(int key, int nsems) {
	int id;
	if (files) {
		char cmd[128];
		if (key) snprintf(cmd, sizeof cmd, "IPC_CREAT key=0x%x nsems=%d mode=0600", key, nsems);
		else snprintf(cmd, sizeof cmd, "IPC_CREAT key=IPC_PRIVATE nsems=%d mode=0600", nsems);
		id = ctl("sem", cmd);
	} else {
		id = semget(key, nsems, IPC_CREAT | 0600);
		if (id < 0) id = -errno;
	}
	if (id >= 0) sems[nsem++] = (struct obj){id, key, 0, 0};
	return id;
}

static void sysctl_path(const char *name, char *buf, size_t n) {
	if (files) snprintf(buf, n, "%s/limits/%s", nsdir, name);
	else snprintf(buf, n, "/proc/sys/kernel/%s", name);
}

static int set_sysctl(const char *name, const char *v) {
	char path[512];
	sysctl_path(name, path, sizeof path);
	int fd = open(path, O_WRONLY);
	if (fd < 0) return -errno;
	int r = write(fd, v, strlen(v)) < 0 ? -errno : 0;
	close(fd);
	return r;
}

static void print_sysctl(const char *name) {
	char path[512], buf[64] = "";
	sysctl_path(name, path, sizeof path);
	int fd = open(path, O_RDONLY);
	if (fd < 0) die(path);
	ssize_t r = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (r < 0) die(path);
	buf[r] = 0;
	printf("  %s %s", name, buf);
}

/* print_table prints the first ncols columns of each row of a
 * sysvipc table, and column extra (if >= 0). */
static void print_table(const char *kind, int ncols, int extra1, int extra2) {
	char path[512], line[512];
	if (files) snprintf(path, sizeof path, "%s/sysvipc/%s", nsdir, kind);
	else snprintf(path, sizeof path, "/proc/sysvipc/%s", kind);
	FILE *f = fopen(path, "r");
	if (!f) die(path);
	fgets(line, sizeof line, f);
	while (fgets(line, sizeof line, f)) {
		char *col[32]; int n = 0;
		for (char *s = strtok(line, " \n"); s && n < 32; s = strtok(0, " \n")) col[n++] = s;
		printf("  %s:", kind);
		for (int i = 0; i < ncols && i < n; i++) printf(" %s", col[i]);
		if (extra1 >= 0 && extra1 < n) printf(" %s", col[extra1]);
		if (extra2 >= 0 && extra2 < n) printf(" %s", col[extra2]);
		printf("\n");
	}
	fclose(f);
}

/* print_info prints the *_INFO figures as <table>/info shows them. */
static void print_info(void) {
	if (files) {
		const char *kinds[] = {"shm", "msg", "sem"};
		for (int k = 0; k < 3; k++) {
			char path[512], line[256];
			snprintf(path, sizeof path, "%s/%s/info", nsdir, kinds[k]);
			FILE *f = fopen(path, "r");
			if (!f) die(path);
			while (fgets(line, sizeof line, f)) printf("  %s.%s", kinds[k], line);
			fclose(f);
		}
		return;
	}
	struct shminfo si; struct shm_info su;
	int r1 = shmctl(0, IPC_INFO, (struct shmid_ds *)&si), r2 = shmctl(0, SHM_INFO, (struct shmid_ds *)&su);
	if (r1 < 0 || r2 < 0 || r1 != r2) die("shmctl info");
	printf("  shm.shmmax %lu\n  shm.shmmin %lu\n  shm.shmmni %lu\n  shm.shmseg %lu\n  shm.shmall %lu\n",
	       si.shmmax, si.shmmin, si.shmmni, si.shmseg, si.shmall);
	printf("  shm.used_ids %d\n  shm.shm_tot %lu\n  shm.shm_rss %lu\n  shm.shm_swp %lu\n  shm.swap_attempts %lu\n  shm.swap_successes %lu\n  shm.max_idx %d\n",
	       su.used_ids, su.shm_tot, su.shm_rss, su.shm_swp, su.swap_attempts, su.swap_successes, r1);
	struct msginfo mi, mu;
	r1 = msgctl(0, IPC_INFO, (struct msqid_ds *)&mi); r2 = msgctl(0, MSG_INFO, (struct msqid_ds *)&mu);
	if (r1 < 0 || r2 < 0 || r1 != r2) die("msgctl info");
	printf("  msg.msgpool %d\n  msg.msgmap %d\n  msg.msgmax %d\n  msg.msgmnb %d\n  msg.msgmni %d\n  msg.msgssz %d\n  msg.msgtql %d\n  msg.msgseg %d\n",
	       mi.msgpool, mi.msgmap, mi.msgmax, mi.msgmnb, mi.msgmni, mi.msgssz, mi.msgtql, mi.msgseg);
	printf("  msg.msg_info.msgpool %d\n  msg.msg_info.msgmap %d\n  msg.msg_info.msgtql %d\n  msg.max_idx %d\n",
	       mu.msgpool, mu.msgmap, mu.msgtql, r1);
	struct seminfo ei, eu;
	r1 = semctl(0, 0, IPC_INFO, &ei); r2 = semctl(0, 0, SEM_INFO, &eu);
	if (r1 < 0 || r2 < 0 || r1 != r2) die("semctl info");
	printf("  sem.semmap %d\n  sem.semmni %d\n  sem.semmns %d\n  sem.semmnu %d\n  sem.semmsl %d\n  sem.semopm %d\n  sem.semume %d\n  sem.semusz %d\n  sem.semvmx %d\n  sem.semaem %d\n",
	       ei.semmap, ei.semmni, ei.semmns, ei.semmnu, ei.semmsl, ei.semopm, ei.semume, ei.semusz, ei.semvmx, ei.semaem);
	printf("  sem.sem_info.semusz %d\n  sem.sem_info.semaem %d\n  sem.max_idx %d\n", eu.semusz, eu.semaem, r1);
}

static int stepno;

/* state prints what survives and the figures. */
static void state(const char *what) {
	printf("step %d: %s\n", ++stepno, what);
	/* shm: key shmid perms size nattch rss; msg: key msqid perms cbytes qnum; sem: key semid perms nsems */
	print_table("shm", 4, 6, 14);
	print_table("msg", 5, -1, -1);
	print_table("sem", 4, -1, -1);
	print_info();
	fflush(stdout);
}

/* A creator: a child process that makes segments and exits when told. */
struct child { pid_t pid; int tell, hear; };

static struct child child_start(void) {
	int down[2], up[2];
	if (pipe(down) || pipe(up)) die("pipe");
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) die("fork");
	if (pid == 0) {
		close(down[1]); close(up[0]);
		char cmd[64];
		FILE *in = fdopen(down[0], "r");
		while (fgets(cmd, sizeof cmd, in)) {
			int key; size_t size;
			if (sscanf(cmd, "make %i %zu", &key, &size) != 2) break;
			int id = shm_create(key, size);
			dprintf(up[1], "%d\n", id);
		}
		_exit(0);
	}
	close(down[0]); close(up[1]);
	return (struct child){pid, down[1], up[0]};
}

static int child_make(struct child *c, int key, size_t size) {
	char buf[32] = "";
	dprintf(c->tell, "make %d %zu\n", key, size);
	if (read(c->hear, buf, sizeof buf - 1) <= 0) die("child");
	int id = atoi(buf);
	if (id >= 0) shms[nshm++] = (struct obj){id, key, size, 0};
	return id;
}

static void child_exit(struct child *c) {
	int st;
	close(c->tell); close(c->hear);
	if (waitpid(c->pid, &st, 0) < 0) die("waitpid");
}

/* A creator thread: it makes one segment and ends. */
static int thread_id, thread_tid;
static void *thread_make(void *arg) {
	thread_tid = syscall(SYS_gettid);
	thread_id = shm_create(0x1007, page);
	return arg;
}

int main(int argc, char **argv) {
	if (argc >= 3 && !strcmp(argv[1], "files")) { files = 1; nsdir = argv[2]; }
	else if (argc != 2 || strcmp(argv[1], "kernel")) { fprintf(stderr, "usage: fidelity kernel | fidelity files NSDIR\n"); return 2; }
	setvbuf(stdout, 0, _IOFBF, 1 << 16);
	page = sysconf(_SC_PAGESIZE);

	print_sysctl("shm_rmid_forced"); print_sysctl("shm_next_id"); print_sysctl("auto_msgmni");
	int a = shm_create(0x1001, 3 * page + 5), b = shm_create(0, page);
	printf("shmget A %d B %d\n", a, b);
	shm_attach(a, 2);
	shm_attach(b, 1);
	shm_detach(b);
	state("A attached, B detached");

	struct child c = child_start();
	int cc = child_make(&c, 0x1002, page), d = child_make(&c, 0, 2 * page);
	printf("creator made C %d D %d\n", cc, d);
	shm_attach(d, 1);
	child_exit(&c);
	state("creator gone with shm_rmid_forced 0: C and D orphaned");

	printf("set shm_rmid_forced 1: %d\n", set_sysctl("shm_rmid_forced", "1"));
	print_sysctl("shm_rmid_forced");
	state("C (no attach) destroyed, D (attached) kept");
	shm_detach(d);
	state("D destroyed at its last detach");

	c = child_start();
	int e = child_make(&c, 0x1003, page), f = child_make(&c, 0x1004, page);
	printf("creator made E %d F %d\n", e, f);
	shm_attach(f, 1);
	state("creator alive: E and F kept");
	child_exit(&c);
	state("creator gone with shm_rmid_forced 1: E destroyed, F kept");

	pthread_t th;
	pthread_create(&th, 0, thread_make, 0);
	pthread_join(th, 0);
	if (thread_id >= 0) shms[nshm++] = (struct obj){thread_id, 0x1007, page, 0};
	char task[64];
	snprintf(task, sizeof task, "/proc/self/task/%d", thread_tid);
	while (access(task, F_OK) == 0) usleep(1000); /* pthread_join returns before exit_shm */
	printf("thread made G %d\n", thread_id);
	state("creator thread gone: G destroyed");

	int h = shm_create(0x1005, page);
	shm_attach(h, 1);
	shm_detach(h);
	printf("shmget H %d\n", h);
	state("H destroyed at its last detach though its creator lives");

	printf("set shm_rmid_forced 0: %d\n", set_sysctl("shm_rmid_forced", "0"));
	shm_detach(f);
	state("F kept at its last detach with 0");
	printf("rm F %d\n", rm("shm", f));
	printf("rm A %d\n", rm("shm", a));
	state("A removed while attached: SHM_DEST");

	printf("set shm_next_id %d\n", set_sysctl("shm_next_id", "98311")); /* seq 3, index 7 */
	print_sysctl("shm_next_id");
	int i = shm_create(0x1006, page);
	printf("shmget I %d\n", i);
	print_sysctl("shm_next_id");
	char v[32];
	snprintf(v, sizeof v, "%d", b);
	printf("set shm_next_id %d\n", set_sysctl("shm_next_id", v)); /* taken */
	printf("shmget J %d\n", shm_create(0, page));
	print_sysctl("shm_next_id");
	printf("set shm_next_id -1: %d\n", set_sysctl("shm_next_id", "-1"));
	printf("set auto_msgmni 2: %d\n", set_sysctl("auto_msgmni", "2"));
	printf("set auto_msgmni 1: %d\n", set_sysctl("auto_msgmni", "1"));
	print_sysctl("auto_msgmni");
	state("I at the id written, J at the next free index");

	int q1 = msg_create(0x2001), q2 = msg_create(0);
	printf("set msg_next_id %d\n", set_sysctl("msg_next_id", "10"));
	int q3 = msg_create(0);
	print_sysctl("msg_next_id");
	printf("msgget %d %d %d\n", q1, q2, q3);
	printf("msgsnd %d\n", msg_send(q1, 1, 100));
	printf("msgsnd %d\n", msg_send(q1, 2, 200));
	printf("msgsnd %d\n", msg_send(q1, 1, 300));
	printf("msgsnd %d\n", msg_send(q3, 5, 7));
	printf("msgrcv %d\n", msg_recv(q1));
	printf("rm Q2 %d\n", rm("msg", q2));
	state("queues and messages");

	int s1 = sem_create(0x3001, 3), s2 = sem_create(0, 5);
	printf("set sem_next_id %d\n", set_sysctl("sem_next_id", "65540"));
	int s3 = sem_create(0, 2);
	print_sysctl("sem_next_id");
	printf("semget %d %d %d\n", s1, s2, s3);
	printf("rm S1 %d\n", rm("sem", s1));
	state("sets");

	shm_detach(a);
	printf("rm Q1 %d\n", rm("msg", q1));
	printf("rm Q3 %d\n", rm("msg", q3));
	state("A destroyed at its last detach");
	return 0;
}
`
