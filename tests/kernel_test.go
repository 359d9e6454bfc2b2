package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The kernel mirror (MOUNT/kernel/, docs/kernel.md) through a real mount:
// objects made by ordinary programs with the System V calls, in IPC
// namespaces of their own (unshare --ipc), seen and changed through the
// files. Each test fails where kernel/ does not exist.

// kipcC is the program that makes the System V calls for the tests.
const kipcC = `#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

/* kipc: the System V calls the kernel-mirror tests make from a process of
 * their own, one per subcommand; a failure prints the call and the
 * errno's name (and exits 0: the answer is the output). */
static int fail(const char *what) {
	printf("%s %s\n", what, strerrorname_np(errno));
	return 0;
}

int main(int argc, char **argv) {
	if (argc < 3)
		return 2;
	const char *op = argv[1];
	key_t key = (key_t)strtoul(argv[2], NULL, 0);
	if (!strcmp(op, "shmmake")) { /* KEY SIZE TEXT */
		int id = shmget(key, strtoul(argv[3], NULL, 0), IPC_CREAT | 0600);
		if (id < 0)
			return fail("shmget");
		char *p = shmat(id, NULL, 0);
		if (p == (void *)-1)
			return fail("shmat");
		strcpy(p, argv[4]);
		shmdt(p);
		printf("%d\n", id);
	} else if (!strcmp(op, "shmfind")) {
		int id = shmget(key, 0, 0);
		if (id < 0)
			return fail("shmget");
		printf("%d\n", id);
	} else if (!strcmp(op, "mmapcheck")) { /* KEY PATH: stores both ways, nattch */
		int id = shmget(key, 0, 0);
		if (id < 0)
			return fail("shmget");
		struct shmid_ds ds;
		shmctl(id, IPC_STAT, &ds);
		size_t size = ds.shm_segsz;
		char *a = shmat(id, NULL, 0);
		if (a == (void *)-1)
			return fail("shmat");
		int fd = open(argv[3], O_RDWR);
		if (fd < 0)
			return fail("open");
		char *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED)
			return fail("mmap");
		m[10] = 'F';     /* through the file */
		a[size - 1] = 'S'; /* through the shmat */
		shmctl(id, IPC_STAT, &ds);
		printf("shmat-sees=%c file-sees=%c nattch=%lu\n", a[10], m[size - 1], (unsigned long)ds.shm_nattch);
		munmap(m, size);
		close(fd);
		shmdt(a);
	} else if (!strcmp(op, "nattch")) {
		int id = shmget(key, 0, 0);
		struct shmid_ds ds;
		if (id < 0 || shmctl(id, IPC_STAT, &ds) < 0)
			return fail("shmctl");
		printf("%lu\n", (unsigned long)ds.shm_nattch);
	} else if (!strcmp(op, "msgsnd")) { /* KEY TYPE TEXT */
		int id = msgget(key, IPC_CREAT | 0600);
		if (id < 0)
			return fail("msgget");
		struct { long mtype; char mtext[256]; } m;
		m.mtype = atol(argv[3]);
		size_t n = strlen(argv[4]);
		memcpy(m.mtext, argv[4], n);
		if (msgsnd(id, &m, n, 0) < 0)
			return fail("msgsnd");
		printf("%d\n", id);
	} else if (!strcmp(op, "msgrcv")) { /* KEY */
		int id = msgget(key, 0);
		if (id < 0)
			return fail("msgget");
		struct { long mtype; char mtext[256]; } m;
		ssize_t n = msgrcv(id, &m, sizeof m.mtext, 0, IPC_NOWAIT);
		if (n < 0)
			return fail("msgrcv");
		printf("%ld %.*s\n", m.mtype, (int)n, m.mtext);
	} else if (!strcmp(op, "semmake")) { /* KEY NSEMS */
		int id = semget(key, atoi(argv[3]), IPC_CREAT | 0600);
		if (id < 0)
			return fail("semget");
		printf("%d\n", id);
	} else if (!strcmp(op, "getval")) { /* KEY NUM */
		int id = semget(key, 0, 0);
		if (id < 0)
			return fail("semget");
		int v = semctl(id, atoi(argv[3]), GETVAL);
		if (v < 0)
			return fail("semctl");
		printf("%d\n", v);
	} else {
		return 2;
	}
	return 0;
}
`

// kipc runs the kipc program inside tenant k as root and returns its
// output, trimmed.
func kipc(t *testing.T, k *ipcTenant, args ...string) string {
	t.Helper()
	bin := buildC(t, "kipc", kipcC)
	argv := append(k.enter(-1, -1), append([]string{bin}, args...)...)
	out, err := runCmd(t, nil, argv[0], argv[1:]...)
	if err != nil {
		t.Fatalf("kipc %v: %v (%s)", args, err, out)
	}
	return strings.TrimSpace(out)
}

// kernelDir is MOUNT/kernel/ipc-<inode> of tenant k.
func kernelNSDir(mnt string, k *ipcTenant) string {
	return filepath.Join(mnt, "kernel", k.name())
}

// A segment made with shmget by a C program shows under kernel/self (as
// the program's namespace sees it) and under kernel/ipc-<inode>, with its
// data; it does not show under the host's namespace.
func TestKernelSegmentFromShmget(t *testing.T) {
	mnt := mountShmfs(t)
	k := newTenant(t, -1, -1, "")
	kipc(t, k, "shmmake", "0x4b1d0001", "8192", "made by shmget")
	got := k.shOK(-1, -1, "readlink "+mnt+"/kernel/self; head -c 14 "+mnt+"/kernel/self/shm/0x4b1d0001; echo; stat -c '%s %a %h' "+mnt+"/kernel/self/shm/0x4b1d0001")
	if want := k.name() + "\nmade by shmget\n8192 600 1\n"; got != want {
		t.Errorf("inside the tenant: %q, want %q", got, want)
	}
	b, err := os.ReadFile(filepath.Join(kernelNSDir(mnt, k), "shm", "0x4b1d0001"))
	if err != nil || len(b) != 8192 || !strings.HasPrefix(string(b), "made by shmget\x00") {
		t.Errorf("from the host: %d bytes %q, %v", len(b), b[:min(len(b), 20)], err)
	}
	host := strings.TrimSpace(shOK(t, "readlink "+mnt+"/kernel/self"))
	if host == k.name() {
		t.Fatal("the tenant shares the host's namespace")
	}
	if _, err := os.Stat(filepath.Join(mnt, "kernel", host, "shm", "0x4b1d0001")); !os.IsNotExist(err) {
		t.Errorf("the tenant's segment shows under the host's namespace: %v", err)
	}
	names, err := os.ReadDir(filepath.Join(mnt, "kernel"))
	if err != nil {
		t.Fatal(err)
	}
	var listed bool
	for _, d := range names {
		listed = listed || d.Name() == k.name()
	}
	if !listed {
		t.Errorf("kernel/ does not list %s", k.name())
	}
}

// Stores through a mapping of the file are seen by the shmat'er and the
// other way round, and shm_nattch counts the file's attach.
func TestKernelMmapCoherence(t *testing.T) {
	mnt := mountShmfs(t)
	k := newTenant(t, -1, -1, "")
	kipc(t, k, "shmmake", "0x4b1d0002", "12288", "x")
	got := kipc(t, k, "mmapcheck", "0x4b1d0002", mnt+"/kernel/self/shm/0x4b1d0002")
	if got != "shmat-sees=F file-sees=S nattch=2" {
		t.Errorf("got %q", got)
	}
	waitFor(t, "the detach at close", func() bool { return kipc(t, k, "nattch", "0x4b1d0002") == "0" })
}

// ctl IPC_CREAT is shmget: shmget(key, 0, 0) finds what it made; rm is
// IPC_RMID.
func TestKernelCtlCreateAndRemove(t *testing.T) {
	mnt := mountShmfs(t)
	k := newTenant(t, -1, -1, "")
	dir := filepath.Join(kernelNSDir(mnt, k), "shm")
	out := shOK(t, "exec 3<>"+dir+"/ctl; echo 'IPC_CREAT key=0x4b1d0003 size=4096 mode=0640' >&3; cat <&3")
	id := kipc(t, k, "shmfind", "0x4b1d0003")
	if out != id+" 0x4b1d0003\n" {
		t.Errorf("ctl answered %q, shmget found %s", out, id)
	}
	if st, err := os.Stat(filepath.Join(dir, "0x4b1d0003")); err != nil || st.Size() != 4096 || st.Mode().Perm() != 0o640 {
		t.Errorf("stat %v %v", st, err)
	}
	if _, err := runCmd(t, nil, "bash", "-c", "echo 'IPC_CREAT key=0x4b1d0003 size=4096 IPC_EXCL' > "+dir+"/ctl"); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("IPC_EXCL of an existing key: %v", err)
	}
	if err := os.Remove(filepath.Join(dir, "0x4b1d0003")); err != nil {
		t.Fatal(err)
	}
	if got := kipc(t, k, "shmfind", "0x4b1d0003"); got != "shmget ENOENT" {
		t.Errorf("after rm, shmget says %q", got)
	}
	// open(O_CREAT) of a new key cannot give shmget a size: the kernel's
	// EINVAL for a size of 0.
	if _, err := os.OpenFile(filepath.Join(dir, "0x4b1d0004"), os.O_RDWR|os.O_CREATE, 0o600); err == nil || !strings.Contains(err.Error(), "invalid argument") {
		t.Errorf("open(O_CREAT) of a new key: %v", err)
	}
}

// A message sent with msgsnd is read from the file (struct msgbuf), and
// one written to the file is received by msgrcv, its type kept.
func TestKernelQueue(t *testing.T) {
	mnt := mountShmfs(t)
	k := newTenant(t, -1, -1, "")
	kipc(t, k, "msgsnd", "0x4b1d0005", "5", "ping")
	q := filepath.Join(kernelNSDir(mnt, k), "msg", "0x4b1d0005")
	// Browsing leaves it there.
	if b, err := os.ReadFile(q + ",mtext,MSG_COPY"); err != nil || string(b) != "ping" {
		t.Errorf("MSG_COPY read %q %v", b, err)
	}
	// Its own name only copies (docs/msg.md); ",recv" receives.
	f, err := os.Open(q + ",recv")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	n, err := f.Read(buf)
	f.Close()
	if err != nil || n != 12 || buf[0] != 5 || string(buf[8:n]) != "ping" {
		t.Errorf("read %d %v: %q", n, err, buf[:n])
	}
	if err := os.WriteFile(q+",mtext,mtype=7", []byte("pong"), 0); err != nil {
		t.Fatal(err)
	}
	if got := kipc(t, k, "msgrcv", "0x4b1d0005"); got != "7 pong" {
		t.Errorf("msgrcv got %q", got)
	}
}

// A semop written to a set's file is seen by semctl(GETVAL).
func TestKernelSetWrite(t *testing.T) {
	mnt := mountShmfs(t)
	k := newTenant(t, -1, -1, "")
	kipc(t, k, "semmake", "0x4b1d0006", "2")
	s := filepath.Join(kernelNSDir(mnt, k), "sem", "0x4b1d0006")
	if err := os.WriteFile(s, []byte("1 3; 0 1"), 0); err != nil {
		t.Fatal(err)
	}
	if got := kipc(t, k, "getval", "0x4b1d0006", "1"); got != "3" {
		t.Errorf("GETVAL 1 = %q", got)
	}
	if b, _ := os.ReadFile(s); string(b) != "1 3\n" {
		t.Errorf("read %q", b)
	}
	// SEM_UNDO is undone at the close of the handle that did it.
	during := shOK(t, "exec 3>"+s+"; echo '1 -2 SEM_UNDO' >&3; "+strings.Join(k.enter(-1, -1), " ")+" "+buildC(t, "kipc", kipcC)+" getval 0x4b1d0006 1")
	if during != "1\n" {
		t.Errorf("GETVAL 1 while the handle is open: %q", during)
	}
	waitFor(t, "SEM_UNDO undone at release", func() bool { return kipc(t, k, "getval", "0x4b1d0006", "1") == "3" })
}

// uid 65534 gets EACCES opening root's 0600 segment, from the host and
// from inside the namespace; root does not.
func TestKernelPermissions(t *testing.T) {
	mnt := mountShmfs(t)
	k := newTenant(t, -1, -1, "")
	kipc(t, k, "shmmake", "0x4b1d0007", "4096", "secret")
	seg := filepath.Join(kernelNSDir(mnt, k), "shm", "0x4b1d0007")
	if _, err := shAs(t, 65534, 65534, "head -c 6 "+seg); err == nil || !strings.Contains(err.Error(), "Permission denied") {
		t.Errorf("uid 65534 from the host: %v", err)
	}
	if out, err := k.sh(65534, 65534, "head -c 6 "+mnt+"/kernel/self/shm/0x4b1d0007"); err == nil || !strings.Contains(err.Error(), "Permission denied") {
		t.Errorf("uid 65534 inside: %q %v", out, err)
	}
	if _, err := shAs(t, 65534, 65534, "rm -f "+seg); err == nil {
		t.Error("uid 65534 removed root's segment")
	}
	if _, err := shAs(t, 65534, 65534, "chmod 666 "+seg); err == nil {
		t.Error("uid 65534 changed root's segment's mode")
	}
	// Attribute changes are refused as on any file, and as /proc
	// refuses them.
	dir := kernelNSDir(mnt, k)
	for _, c := range []string{"touch " + seg, "touch -d 2020-01-01 " + seg, "touch " + dir + "/limits/msgmni",
		"chmod 777 " + dir + "/shm", "touch -d 2020-01-01 " + mnt + "/kernel"} {
		if _, err := shAs(t, 65534, 65534, c); err == nil {
			t.Errorf("uid 65534: %s succeeded", c)
		}
	}
	if _, err := sh(t, "chmod 777 "+dir+"/shm"); err == nil {
		t.Error("root changed the mode of a table directory")
	}
	shOK(t, "touch "+seg)
	if got := shOK(t, "head -c 6 "+seg); got != "secret" {
		t.Errorf("root reads %q", got)
	}
}

// kernel/self/sysvipc/shm lists the same ids as /proc/sysvipc/shm of the
// namespace, and limits/ are its own.
func TestKernelSysvipcAndLimits(t *testing.T) {
	mnt := mountShmfs(t)
	k := newTenant(t, -1, -1, "")
	for i := 0; i < 3; i++ {
		kipc(t, k, "shmmake", fmt.Sprint(0x4b1d0010+i), "4096", "x")
	}
	mine := k.shOK(-1, -1, "cat "+mnt+"/kernel/self/sysvipc/shm")
	theirs := k.shOK(-1, -1, "cat /proc/sysvipc/shm")
	ids := func(table string) []string {
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(table), "\n")[1:] {
			out = append(out, strings.Fields(l)[1])
		}
		return out
	}
	if a, b := ids(mine), ids(theirs); strings.Join(a, " ") != strings.Join(b, " ") || len(a) != 3 {
		t.Errorf("ids %v, /proc/sysvipc/shm %v", a, b)
	}
	lim := filepath.Join(kernelNSDir(mnt, k), "limits", "msgmni")
	if err := os.WriteFile(lim, []byte("123\n"), 0); err != nil {
		t.Fatal(err)
	}
	if got := k.shOK(-1, -1, "cat /proc/sys/kernel/msgmni"); got != "123\n" {
		t.Errorf("the namespace's msgmni is %q after the write", got)
	}
	if host, _ := os.ReadFile("/proc/sys/kernel/msgmni"); string(host) == "123\n" {
		t.Error("the write reached the host's namespace")
	}
	if _, err := shAs(t, 65534, 65534, "echo 5 > "+lim); err == nil {
		t.Error("uid 65534 wrote a limit")
	}
}

// A namespace shows while a process lives in it and goes with its last
// process.
func TestKernelNamespaceComesAndGoes(t *testing.T) {
	mnt := mountShmfs(t)
	k := newTenant(t, -1, -1, "")
	dir := kernelNSDir(mnt, k)
	if _, err := os.Stat(filepath.Join(dir, "shm")); err != nil {
		t.Fatal(err)
	}
	k.end()
	waitFor(t, dir+" gone", func() bool {
		_, err := os.Stat(dir)
		return os.IsNotExist(err)
	})
	ents, _ := os.ReadDir(filepath.Join(mnt, "kernel"))
	for _, e := range ents {
		if e.Name() == k.name() {
			t.Errorf("%s still listed", k.name())
		}
	}
	_ = strconv.Itoa
}

// A receive blocked in the kernel is interrupted by the reader's signal
// (FUSE INTERRUPT): the reader ends, and the msgrcv it was in is gone
// from the kernel, for a message sent afterwards is there for the next
// receiver.
func TestKernelQueueInterrupt(t *testing.T) {
	mnt := mountShmfs(t)
	k := newTenant(t, -1, -1, "")
	kipc(t, k, "msgsnd", "0x4b1d0020", "1", "first")
	kipc(t, k, "msgrcv", "0x4b1d0020")
	q := filepath.Join(kernelNSDir(mnt, k), "msg", "0x4b1d0020,recv")
	for i := 0; i < 3; i++ {
		r := startBlocked(t, "", "cat", q)
		r.cmd.Process.Signal(syscall.SIGINT)
		select {
		case err := <-r.done:
			r.done <- err
		case <-time.After(10 * time.Second):
			t.Fatal("a reader blocked in msgrcv did not end at SIGINT")
		}
	}
	kipc(t, k, "msgsnd", "0x4b1d0020", "4", "after")
	if got := kipc(t, k, "msgrcv", "0x4b1d0020"); got != "4 after" {
		t.Errorf("the message sent after the interrupts: %q", got)
	}
}

// The server lets go of a namespace whose last process ended, with
// nobody looking at kernel/ again: no descriptor of its nsfs file and no
// thread in it is left, so the kernel frees it and its objects.
func TestKernelNamespaceReleased(t *testing.T) {
	mnt := mountShmfs(t)
	k := newTenant(t, -1, -1, "")
	kipc(t, k, "shmmake", "0x4b1d0040", "4096", "held")
	seg := filepath.Join(kernelNSDir(mnt, k), "shm", "0x4b1d0040")
	if got := shOK(t, "head -c 4 "+seg+"; cat "+kernelNSDir(mnt, k)+"/sysvipc/shm >/dev/null"); got != "held" {
		t.Fatalf("read %q", got)
	}
	srv := serverPid(t, mnt)
	link := fmt.Sprintf("ipc:[%d]", k.ns)
	holds := func() (fds, threads int) {
		ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", srv))
		for _, e := range ents {
			if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", srv, e.Name())); l == link {
				fds++
			}
		}
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", srv))
		for _, e := range tasks {
			if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/task/%s/ns/ipc", srv, e.Name())); l == link {
				threads++
			}
		}
		return
	}
	if fds, threads := holds(); fds != 1 || threads == 0 {
		t.Fatalf("while in use the server holds %d descriptors and %d threads of the namespace", fds, threads)
	}
	k.end()
	waitFor(t, "the server to let go of the ended namespace", func() bool {
		fds, threads := holds()
		return fds == 0 && threads == 0
	})
}

// kernelName is the directory of the kernel's namespaces at the top of
// every mount (as root), which listings of MOUNT/ show.
const kernelName = "kernel"

// kernel is a name of the mount's own: no namespace can be made or
// removed under it.
func TestKernelReservedName(t *testing.T) {
	mnt := mountShmfs(t)
	if err := os.Mkdir(filepath.Join(mnt, kernelName), 0o755); !os.IsExist(err) {
		t.Errorf("mkdir kernel: %v, want EEXIST", err)
	}
	if err := syscall.Rmdir(filepath.Join(mnt, kernelName)); err != syscall.EPERM {
		t.Errorf("rmdir kernel: %v, want EPERM", err)
	}
	// Nothing is made in kernel/ or a namespace's fixed directories: a
	// new name there is ENOENT, as in /proc.
	self := filepath.Join(mnt, kernelName, "self")
	for _, p := range []string{filepath.Join(mnt, kernelName, "ipc-1"), filepath.Join(self, "x"), filepath.Join(self, "limits", "x")} {
		if err := syscall.Mkdir(p, 0o755); err != syscall.ENOENT {
			t.Errorf("mkdir %s: %v, want ENOENT", p, err)
		}
		if _, err := os.Create(p); !os.IsNotExist(err) {
			t.Errorf("create %s: %v, want ENOENT", p, err)
		}
	}
}
