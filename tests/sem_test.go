package tests

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// semRow is a line of sysvipc/sem.
type semRow struct {
	key, id, perms, nsems, uid, gid, cuid, cgid, otime, ctime string
}

// semTable reads sysvipc/sem of the default namespace, by key.
func semTable(t testing.TB, mnt string) map[string]semRow {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(mnt, "default/sysvipc/sem"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if lines[0] != "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime" {
		t.Fatalf("sysvipc/sem header %q", lines[0])
	}
	rows := map[string]semRow{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 10 {
			t.Fatalf("sysvipc/sem line %q", l)
		}
		rows[f[0]] = semRow{f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9]}
	}
	return rows
}

// TestSemCtl makes, reads, sets and removes sets through sem/ctl, with
// the errnos of semget and semctl for what they refuse.
func TestSemCtl(t *testing.T) {
	mnt := mountShmfs(t)
	dir := filepath.Join(mnt, "default/sem")
	ctl := filepath.Join(dir, "ctl")
	res := semCtlOK(t, ctl, "IPC_CREAT key=0x162e nsems=3 mode=0640")
	if res != "0 0x0000162e\n" {
		t.Fatalf("IPC_CREAT: %q", res)
	}
	set := filepath.Join(dir, "0x0000162e")
	if got := semValues(t, set); got != "0 0 0" {
		t.Errorf("new set reads %q", got)
	}
	if got := semCtlOK(t, ctl, "IPC_CREAT key=5678 nsems=2"); got != res {
		t.Errorf("IPC_CREAT of the same key, fewer sems: %q, want %q", got, res)
	}
	priv := semCtlOK(t, ctl, "IPC_CREAT key=IPC_PRIVATE nsems=1")
	if priv != "1 private.1\n" {
		t.Errorf("IPC_CREAT IPC_PRIVATE: %q", priv)
	}

	semCtlOK(t, ctl, "SETALL 0x162e 5 0 32767")
	semCtlOK(t, ctl, "SETVAL id=0 1 7")
	if got := semValues(t, set); got != "5 7 32767" {
		t.Errorf("after SETALL and SETVAL: %q", got)
	}
	for cmd, want := range map[string]string{
		"GETALL 0x162e":    "5 7 32767\n",
		"GETVAL 0x162e 1":  "7\n",
		"GETNCNT 0x162e 0": "0\n",
		"GETZCNT 0x162e 2": "0\n",
	} {
		if got := semCtlOK(t, ctl, cmd); got != want {
			t.Errorf("%s: %q, want %q", cmd, got, want)
		}
	}

	// sempid is the thread that wrote, as FUSE reports it: one of ours.
	pid := strings.TrimSpace(semCtlOK(t, ctl, "GETPID 0x162e 0"))
	if _, err := os.Stat("/proc/self/task/" + pid); err != nil {
		t.Errorf("GETPID %q is no thread of the test: %v", pid, err)
	}

	for _, c := range []struct {
		cmd  string
		want syscall.Errno
	}{
		{"IPC_CREAT key=0x162e nsems=3 IPC_EXCL", syscall.EEXIST},
		{"IPC_CREAT key=0x162e nsems=4", syscall.EINVAL},
		{"IPC_CREAT key=0x99 nsems=0", syscall.EINVAL},
		{"IPC_CREAT key=0x99 nsems=32001", syscall.EINVAL},
		{"IPC_CREAT key=0x99", syscall.EINVAL},
		{"IPC_CREAT key=0x99 nsems=1 mode=01000", syscall.EINVAL},
		{"GETVAL 0x99 0", syscall.ENOENT},
		{"GETVAL id=77 0", syscall.EINVAL},
		{"GETVAL 0x162e 3", syscall.EINVAL},
		{"GETVAL 0x162e -1", syscall.EINVAL},
		{"GETVAL 0x162e", syscall.EINVAL},
		{"GETVAL 0x162e x", syscall.EINVAL},
		{"SETVAL 0x162e 0 32768", syscall.ERANGE},
		{"SETVAL 0x162e 0 -1", syscall.ERANGE},
		{"SETVAL 0x99 0 32768", syscall.ERANGE},
		{"SETVAL 0x162e 3 1", syscall.EINVAL},
		{"SETALL 0x162e 1 2", syscall.EINVAL},
		{"SETALL 0x162e 1 2 32768", syscall.ERANGE},
		{"SETALL 0x162e", syscall.EINVAL},
		{"GETALL 0x162e 1", syscall.EINVAL},
		{"IPC_SET 0x162e", syscall.EINVAL},
		{"IPC_SET 0x162e qbytes=5", syscall.EINVAL},
		{"SEM_STAT 0x162e", syscall.EINVAL},
	} {
		if _, err := semCtl(t, ctl, c.cmd); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.cmd, err, c.want)
		}
	}
	if got := semValues(t, set); got != "5 7 32767" {
		t.Errorf("refused commands changed the values: %q", got)
	}

	semCtlOK(t, ctl, "IPC_SET 0x162e uid=65534 gid=65534 mode=0604")
	row := semTable(t, mnt)["5678"]
	if row.id != "0" || row.perms != "604" || row.nsems != "3" || row.uid != "65534" || row.gid != "65534" || row.cuid != "0" || row.otime != "0" {
		t.Errorf("sysvipc/sem after IPC_SET: %+v", row)
	}
	if ls := shOK(t, "ls "+dir); ls != "0x0000162e\nctl\ninfo\nprivate.1\n" {
		t.Errorf("ls sem: %q", ls)
	}
	semCtlOK(t, ctl, "IPC_RMID id=1")
	semCtlOK(t, ctl, "IPC_RMID 0x162e")
	if _, err := semCtl(t, ctl, "IPC_RMID 0x162e"); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("IPC_RMID again: %v", err)
	}
	if ls := shOK(t, "ls "+dir); ls != "ctl\ninfo\n" {
		t.Errorf("ls sem after IPC_RMID: %q", ls)
	}
}

// TestSemLimits: limits/sem is "semmsl semmns semopm semmni" and each
// is enforced.
func TestSemLimits(t *testing.T) {
	mnt := mountShmfs(t)
	ns := filepath.Join(mnt, "default")
	ctl := filepath.Join(ns, "sem/ctl")
	lim := filepath.Join(ns, "limits/sem")
	if got := shOK(t, "cat "+lim); got != "32000\t1024000000\t500\t32000\n" {
		t.Errorf("limits/sem: %q", got)
	}
	shOK(t, "echo 4 6 2 2 > "+lim)
	for _, c := range []struct {
		cmd  string
		want error
	}{
		{"IPC_CREAT key=1 nsems=5", syscall.EINVAL},
		{"IPC_CREAT key=1 nsems=4", nil},
		{"IPC_CREAT key=2 nsems=3", syscall.ENOSPC},
		{"IPC_CREAT key=2 nsems=2", nil},
		{"IPC_CREAT key=3 nsems=0", syscall.EINVAL},
	} {
		if _, err := semCtl(t, ctl, c.cmd); !errors.Is(err, c.want) && !(err == nil && c.want == nil) {
			t.Errorf("%s: %v, want %v", c.cmd, err, c.want)
		}
	}
	shOK(t, "echo 4 100 2 2 > "+lim)
	if _, err := semCtl(t, ctl, "IPC_CREAT key=3 nsems=1"); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("past semmni: %v", err)
	}
	set := filepath.Join(ns, "sem/0x00000001")
	if got := semRun(t, "op", set, "0 1; 1 1; 2 1"); got != "E2BIG" {
		t.Errorf("3 ops past semopm 2: %s", got)
	}
	if got := semRun(t, "op", set, "0 1; 1 1"); got != "ok" {
		t.Errorf("2 ops: %s", got)
	}
	if got := semValues(t, set); got != "1 1 0 0" {
		t.Errorf("values: %q", got)
	}
}

// TestSemFileCreate: open(O_CREAT) of a key makes a set of one
// semaphore, whose first SETALL may give it its size.
func TestSemFileCreate(t *testing.T) {
	mnt := mountShmfs(t)
	dir := filepath.Join(mnt, "default/sem")
	set := filepath.Join(dir, "0x00000abc")
	shOK(t, "umask 022; echo '0 1' > "+set)
	if got := semValues(t, set); got != "1" {
		t.Errorf("echo '0 1' > new key: %q", got)
	}
	row := semTable(t, mnt)["2748"]
	if row.nsems != "1" || row.perms != "644" {
		t.Errorf("sysvipc/sem: %+v", row)
	}
	if _, err := os.OpenFile(set, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("O_EXCL of an existing set: %v", err)
	}

	fresh := filepath.Join(dir, "0x00000abd")
	f, err := os.OpenFile(fresh, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("SETALL 1 0 0 2")); err != nil {
		t.Fatalf("sizing SETALL: %v", err)
	}
	if got := semValues(t, fresh); got != "1 0 0 2" {
		t.Errorf("after sizing SETALL: %q", got)
	}
	if _, err := f.Write([]byte("SETALL 1 0")); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("second SETALL of another size: %v", err)
	}
	if _, err := f.Write([]byte("SETVAL 3 5")); err != nil {
		t.Errorf("SETVAL through the file: %v", err)
	}
	// A read after the end starts over with the values as they are now.
	b := make([]byte, 100)
	n, _ := f.Read(b)
	if string(b[:n]) != "1 0 0 5\n" {
		t.Errorf("read: %q", b[:n])
	}
	if n, _ := f.Read(b); n != 0 {
		t.Errorf("read after the values: %q, want the end", b[:n])
	}
	f.Write([]byte("0 1"))
	if n, _ := f.Read(b); string(b[:n]) != "2 0 0 5\n" {
		t.Errorf("read after the end: %q", b[:n])
	}
	if row := semTable(t, mnt)["2749"]; row.nsems != "4" {
		t.Errorf("sized set in sysvipc/sem: %+v", row)
	}

	if err := os.WriteFile(filepath.Join(dir, "private.5"), []byte("0 1"), 0o600); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("creating private.5: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "0xabc"), []byte("0 1"), 0o600); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("creating a name that is no key's: %v", err)
	}
	// chmod, chown and touch are IPC_SET and nothing; unlink is IPC_RMID.
	shOK(t, "chmod 640 "+set+" && chown 65534:65534 "+set+" && touch "+set)
	if row := semTable(t, mnt)["2748"]; row.perms != "640" || row.uid != "65534" || row.gid != "65534" || row.cuid != "0" {
		t.Errorf("after chmod and chown: %+v", row)
	}
	if out, err := sh(t, "truncate -s 5 "+set); err == nil {
		t.Errorf("truncate -s 5 of a set succeeded: %s", out)
	}
	shOK(t, "rm "+set)
	if _, ok := semTable(t, mnt)["2748"]; ok {
		t.Errorf("rm left the set")
	}
}

// TestSemWireErrors: malformed writes are EINVAL, and every semop
// refusal has the kernel's errno; none changes anything.
func TestSemWireErrors(t *testing.T) {
	mnt := mountShmfs(t)
	ctl := filepath.Join(mnt, "default/sem/ctl")
	semCtlOK(t, ctl, "IPC_CREAT key=7 nsems=2 mode=0600")
	set := filepath.Join(mnt, "default/sem/0x00000007")
	semCtlOK(t, ctl, "SETALL 7 1 32760")
	text := []struct{ ops, want string }{
		{";\n;", "EINVAL"},
		{"0", "EINVAL"},
		{"0 -1 SEM_UNDO extra", "EINVAL"},
		{"0 x", "EINVAL"},
		{"-1 1", "EINVAL"},
		{"65536 1", "EINVAL"},
		{"0 32768", "EINVAL"},
		{"0 -1 SEM_UNDO|", "EINVAL"},
		{"0 -1 sem_undo", "EINVAL"},
		{"0 -1; timeout=1; timeout=2", "EINVAL"},
		{"0 -1; timeout=1.0000000001", "EINVAL"},
		{"0 -1; timeout=-1", "EINVAL"},
		{"0 -1; 2 1", "EFBIG"},
		{"0 -1; 1 +8", "ERANGE"},
		{"0 -1; 1 -1; 0 -1 IPC_NOWAIT", "EAGAIN"},
		{"0 0 IPC_NOWAIT", "EAGAIN"},
		{"1 -32760 SEM_UNDO; 0 -1 SEM_UNDO|IPC_NOWAIT; 0 -1 IPC_NOWAIT", "EAGAIN"},
		{"0 -1 ; 0 -1; timeout=0", "EAGAIN"},
	}
	for _, c := range text {
		if got := semRun(t, "op", set, c.ops); got != c.want {
			t.Errorf("write %q: %s, want %s", c.ops, got, c.want)
		}
	}
	binary := []struct {
		args []string
		want string
	}{
		{[]string{"0", "-1", "0", "2", "1", "0"}, "EFBIG"},
		{[]string{"0", "-2", "2048"}, "EAGAIN"},
		{[]string{"-t", "-1", "0", "0", "-2", "0"}, "EINVAL"},
		{[]string{"-t", "0", "1000000000", "0", "-2", "0"}, "EINVAL"},
		{[]string{"-t", "0", "1000000", "0", "-2", "0"}, "EAGAIN"},
		{[]string{"1", "8", "0"}, "ERANGE"},
		{[]string{}, "EINVAL"},
	}
	for _, c := range binary {
		if got := semRun(t, append([]string{"bop", set}, c.args...)...); got != c.want {
			t.Errorf("binary %v: %s, want %s", c.args, got, c.want)
		}
	}
	if got := semValues(t, set); got != "1 32760" {
		t.Fatalf("refused writes changed the values: %q", got)
	}
	if got := semRun(t, "op", set, "0 -1\n1 +7 SEM_UNDO|IPC_NOWAIT\n\n1 -2 IPC_NOWAIT SEM_UNDO; timeout=2.5"); got != "ok" {
		t.Errorf("text write: %s", got)
	}
	if got := semRun(t, "bop", set, "-t", "1", "0", "0", "1", "4096", "1", "-1", "0"); got != "ok" {
		t.Errorf("binary write: %s", got)
	}
	// Each undo was the driver's own handle's, undone when it closed.
	if got := semValues(t, set); got != "0 32759" {
		t.Errorf("values: %q", got)
	}
	big := strings.Repeat("0 0;", 501)
	if got := semRun(t, "op", set, big); got != "E2BIG" {
		t.Errorf("501 ops: %s", got)
	}
}
