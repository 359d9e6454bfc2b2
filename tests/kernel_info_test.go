package tests

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// kernel/ipc-<inode>/<kind>/info and the ipc controls of limits/ through
// a real mount (docs/kernel.md): the figures are the kernel's own, as a
// program inside the namespace gets them from the *_INFO calls, and a
// *_next_id written through the file is the kernel's.

// kinfoC makes objects of each kind ("make") and prints the *_INFO
// figures in the info files' format ("info KIND"), from the calls
// themselves.
const kinfoC = `#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

int main(int argc, char **argv) {
	if (argc < 2)
		return 2;
	if (!strcmp(argv[1], "make")) {
		/* two segments, one touched (resident pages), one marked for
		 * destruction while attached; a queue with three messages; two
		 * sets of 3 and 5 semaphores. */
		int a = shmget(0x1f000001, 3 * 4096 + 1, IPC_CREAT | 0600);
		int b = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
		char *p = shmat(a, NULL, 0), *q = shmat(b, NULL, 0);
		if (a < 0 || b < 0 || p == (void *)-1 || q == (void *)-1)
			return 1;
		memset(p, 1, 2 * 4096);
		shmctl(b, IPC_RMID, NULL);
		int m = msgget(0x1f000002, IPC_CREAT | 0600);
		struct { long t; char x[64]; } msg = {1, "hello"};
		for (int i = 0; i < 3; i++)
			if (msgsnd(m, &msg, 5 + i, 0) < 0)
				return 1;
		if (semget(0x1f000003, 3, IPC_CREAT | 0600) < 0 || semget(IPC_PRIVATE, 5, IPC_CREAT | 0600) < 0)
			return 1;
		/* keep b attached: it stays in used_ids while this runs */
		printf("ready\n");
		fflush(stdout);
		getchar();
		return 0;
	}
	if (argc < 3)
		return 2;
	if (!strcmp(argv[2], "shm")) {
		struct shminfo l;
		struct shm_info u;
		shmctl(0, IPC_INFO, (struct shmid_ds *)&l);
		int mx = shmctl(0, SHM_INFO, (struct shmid_ds *)&u);
		printf("shmmax %lu\nshmmin %lu\nshmmni %lu\nshmseg %lu\nshmall %lu\n", l.shmmax, l.shmmin, l.shmmni, l.shmseg, l.shmall);
		printf("used_ids %d\nshm_tot %lu\nshm_rss %lu\nshm_swp %lu\nswap_attempts %lu\nswap_successes %lu\nmax_idx %d\n",
		       u.used_ids, u.shm_tot, u.shm_rss, u.shm_swp, u.swap_attempts, u.swap_successes, mx);
	} else if (!strcmp(argv[2], "msg")) {
		struct msginfo l, u;
		msgctl(0, IPC_INFO, (struct msqid_ds *)&l);
		int mx = msgctl(0, MSG_INFO, (struct msqid_ds *)&u);
		printf("msgpool %d\nmsgmap %d\nmsgmax %d\nmsgmnb %d\nmsgmni %d\nmsgssz %d\nmsgtql %d\nmsgseg %d\n",
		       l.msgpool, l.msgmap, l.msgmax, l.msgmnb, l.msgmni, l.msgssz, l.msgtql, l.msgseg);
		printf("msg_info.msgpool %d\nmsg_info.msgmap %d\nmsg_info.msgtql %d\nmax_idx %d\n", u.msgpool, u.msgmap, u.msgtql, mx);
	} else {
		struct seminfo l, u;
		semctl(0, 0, IPC_INFO, &l);
		int mx = semctl(0, 0, SEM_INFO, &u);
		printf("semmap %d\nsemmni %d\nsemmns %d\nsemmnu %d\nsemmsl %d\nsemopm %d\nsemume %d\nsemusz %d\nsemvmx %d\nsemaem %d\n",
		       l.semmap, l.semmni, l.semmns, l.semmnu, l.semmsl, l.semopm, l.semume, l.semusz, l.semvmx, l.semaem);
		printf("sem_info.semusz %d\nsem_info.semaem %d\nmax_idx %d\n", u.semusz, u.semaem, mx);
	}
	return 0;
}
`

// The info files of a private kernel namespace read byte for byte as a
// program inside it gets the figures from the calls, with objects of
// each kind in use (a segment marked for destruction still counted), and
// differ from the host's.
func TestKernelInfo(t *testing.T) {
	mnt := mountShmfs(t)
	bin := buildC(t, "kinfo", kinfoC)
	k := newTenant(t, -1, -1, "")
	dir := kernelNSDir(mnt, k)
	// An empty namespace: nothing in use.
	for _, kind := range []string{"shm", "msg", "sem"} {
		got, err := os.ReadFile(filepath.Join(dir, kind, "info"))
		if err != nil {
			t.Fatal(err)
		}
		if want := k.shOK(-1, -1, bin+" info "+kind); string(got) != want {
			t.Errorf("empty %s/info:\n%s\nthe calls:\n%s", kind, got, want)
		}
	}
	// A holder keeps its attaches while the files are compared.
	argv := append(k.enter(-1, -1), bin, "make")
	holder := startHolder(t, argv)
	for _, kind := range []string{"shm", "msg", "sem"} {
		got, err := os.ReadFile(filepath.Join(dir, kind, "info"))
		if err != nil {
			t.Fatal(err)
		}
		want := k.shOK(-1, -1, bin+" info "+kind)
		if string(got) != want {
			t.Errorf("%s/info:\n%s\nthe calls:\n%s", kind, got, want)
		}
		t.Logf("%s/info:\n%s", kind, got)
	}
	shm, _ := os.ReadFile(filepath.Join(dir, "shm", "info"))
	for _, line := range []string{"used_ids 2\n", "shm_tot 6\n", "shm_rss 2\n", "max_idx 1\n"} {
		if !strings.Contains(string(shm), line) {
			t.Errorf("shm/info lacks %q:\n%s", line, shm)
		}
	}
	msg, _ := os.ReadFile(filepath.Join(dir, "msg", "info"))
	for _, line := range []string{"msg_info.msgpool 1\n", "msg_info.msgmap 3\n", "msg_info.msgtql 18\n"} {
		if !strings.Contains(string(msg), line) {
			t.Errorf("msg/info lacks %q:\n%s", line, msg)
		}
	}
	sem, _ := os.ReadFile(filepath.Join(dir, "sem", "info"))
	for _, line := range []string{"sem_info.semusz 2\n", "sem_info.semaem 8\n"} {
		if !strings.Contains(string(sem), line) {
			t.Errorf("sem/info lacks %q:\n%s", line, sem)
		}
	}
	holder()
	if err := os.WriteFile(filepath.Join(dir, "shm", "info"), []byte("x"), 0); err == nil {
		t.Error("info was writable")
	}
	ls := k.shOK(-1, -1, "ls "+filepath.Join(dir, "msg"))
	if !strings.Contains(ls, "info\n") {
		t.Errorf("msg/ lists %q, no info", ls)
	}
}

// limits/ lists the five controls as /proc/sys/kernel has them (the
// *_next_id files 0444); a write of shm_next_id through the file makes
// the namespace's next shmget get exactly that id, once, after which it
// reads -1 again; uid 65534 cannot write it; the host is untouched.
func TestKernelNextID(t *testing.T) {
	mnt := mountShmfs(t)
	k := newTenant(t, -1, -1, "")
	lim := filepath.Join(kernelNSDir(mnt, k), "limits")
	for _, name := range []string{"auto_msgmni", "msg_next_id", "sem_next_id", "shm_next_id", "shm_rmid_forced"} {
		got, err := os.ReadFile(filepath.Join(lim, name))
		if err != nil {
			t.Fatal(err)
		}
		if want := k.shOK(-1, -1, "cat /proc/sys/kernel/"+name); string(got) != want {
			t.Errorf("limits/%s reads %q, /proc/sys/kernel/%s %q", name, got, name, want)
		}
		mine, _ := os.Stat(filepath.Join(lim, name))
		theirs, _ := os.Stat("/proc/sys/kernel/" + name)
		if mine.Mode() != theirs.Mode() {
			t.Errorf("limits/%s is %v, /proc/sys/kernel/%s %v", name, mine.Mode(), name, theirs.Mode())
		}
	}
	next := filepath.Join(lim, "shm_next_id")
	if _, err := shAs(t, 65534, 65534, "echo 98309 > "+next); err == nil {
		t.Error("uid 65534 wrote shm_next_id")
	}
	if err := os.WriteFile(next, []byte("98309\n"), 0); err != nil {
		t.Fatal(err)
	}
	if got := k.shOK(-1, -1, "cat /proc/sys/kernel/shm_next_id"); got != "98309\n" {
		t.Errorf("the namespace's shm_next_id is %q after the write", got)
	}
	if host, _ := os.ReadFile("/proc/sys/kernel/shm_next_id"); string(host) != "-1\n" {
		t.Errorf("the host's shm_next_id is %q", host)
	}
	if id := kipc(t, k, "shmmake", "0x4b1d0f00", "4096", "x"); id != "98309" {
		t.Errorf("shmget after the write gave id %s, want 98309", id)
	}
	if got, _ := os.ReadFile(next); string(got) != "-1\n" {
		t.Errorf("shm_next_id reads %q after the create", got)
	}
	if id := kipc(t, k, "shmmake", "0x4b1d0f01", "4096", "x"); id == "98309" {
		t.Errorf("the next shmget got id %s: the write applied twice", id)
	}
}

// startHolder runs argv until it prints a line, and returns what ends it
// (closing its stdin); the test's cleanup ends it too.
func startHolder(t *testing.T, argv []string) func() {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := false
	end := func() {
		if !done {
			done = true
			in.Close()
			cmd.Wait()
		}
	}
	t.Cleanup(end)
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("%v: %q %v", argv, line, err)
	}
	return end
}
