package tests

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// The kernel caches a set's attributes on each inode it holds of it (one
// per lookup of its name, fs/semdir.go), and the names that no set has
// (fs/cache.go). These tests cache attributes through open handles, have
// another process change the set in a way the kernel does not see, and
// check that the next fstat sees the change at once.

// semStatOf reads the otime and ctime of a set from sysvipc/sem.
func semStatOf(t *testing.T, mnt string, key int) (otime, ctime int64) {
	t.Helper()
	r, ok := semTable(t, mnt)[strconv.Itoa(key)]
	if !ok {
		t.Fatalf("no set %d in sysvipc/sem", key)
	}
	o, err1 := strconv.ParseInt(r.otime, 10, 64)
	c, err2 := strconv.ParseInt(r.ctime, 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("sysvipc/sem times %q %q", r.otime, r.ctime)
	}
	return o, c
}

// TestSemCacheAttrs: a set's attributes, cached on two inodes the kernel
// holds of it (two opens, two lookups), follow a chmod through a third
// lookup, IPC_SET, a semop, SETVAL and IPC_RMID, each made by another
// process.
func TestSemCacheAttrs(t *testing.T) {
	mnt := mountShmfs(t)
	const key = 0xcac5
	ctl, set := semSet(t, mnt, key, "1")
	var fs []*os.File
	for i := 0; i < 2; i++ {
		f, err := os.OpenFile(set, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fs = append(fs, f)
	}
	check := func(when string, ok func(st *syscall.Stat_t) bool) {
		t.Helper()
		for i, f := range fs {
			if st := fstatT(t, f); !ok(st) {
				t.Errorf("handle %d after %s: mode %o uid %d nlink %d mtime %d ctime %d", i, when, st.Mode, st.Uid, st.Nlink, st.Mtim.Sec, st.Ctim.Sec)
			}
		}
	}
	mode := func(want uint32) func(*syscall.Stat_t) bool {
		return func(st *syscall.Stat_t) bool { return st.Mode == syscall.S_IFREG|want }
	}
	check("IPC_CREAT", mode(0o666))

	shOK(t, "chmod 0640 "+set)
	check("chmod by another process", mode(0o640))

	shOK(t, fmt.Sprintf("exec 3<>%s; echo IPC_SET %d mode=0604 uid=1234 >&3; cat <&3 >/dev/null", ctl, key))
	check("IPC_SET", func(st *syscall.Stat_t) bool { return st.Mode == syscall.S_IFREG|0o604 && st.Uid == 1234 })
	shOK(t, fmt.Sprintf("echo IPC_SET %d uid=0 mode=0666 > %s", key, ctl))
	check("IPC_SET by sh", func(st *syscall.Stat_t) bool { return st.Mode == syscall.S_IFREG|0o666 && st.Uid == 0 })

	if o, _ := semStatOf(t, mnt, key); o != 0 {
		t.Fatalf("otime %d before any semop", o)
	}
	shOK(t, "echo '0 -1' > "+set)
	otime, _ := semStatOf(t, mnt, key)
	check("a semop", func(st *syscall.Stat_t) bool { return otime != 0 && st.Mtim.Sec == otime && st.Atim.Sec == otime })

	// SETVAL sets sem_ctime to the current second: repeat it until that
	// second has moved on from the one the handles cached.
	_, ctime0 := semStatOf(t, mnt, key)
	for deadline := time.Now().Add(5 * time.Second); ; {
		for _, f := range fs {
			fstatT(t, f) // cached anew
		}
		shOK(t, fmt.Sprintf("echo SETVAL %d 0 1 > %s", key, ctl))
		_, ctime := semStatOf(t, mnt, key)
		check("SETVAL", func(st *syscall.Stat_t) bool { return st.Ctim.Sec == ctime })
		if ctime != ctime0 || t.Failed() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sem_ctime never moved")
		}
		time.Sleep(100 * time.Millisecond)
	}

	if got := shOK(t, fmt.Sprintf("exec 3<>%s; echo IPC_RMID %d >&3; cat <&3", ctl, key)); got == "" {
		t.Fatal("IPC_RMID: no result")
	}
	check("IPC_RMID", func(st *syscall.Stat_t) bool { return st.Nlink == 0 })
	mustNotExist(t, set, "after IPC_RMID")
}

// TestSemCacheUnlink: an unlink through one lookup shows the set removed
// on the inodes of other lookups, held open.
func TestSemCacheUnlink(t *testing.T) {
	mnt := mountShmfs(t)
	_, set := semSet(t, mnt, 0xcac6, "0")
	f, err := os.Open(set)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if st := fstatT(t, f); st.Nlink != 1 {
		t.Fatalf("nlink %d", st.Nlink)
	}
	shOK(t, "rm "+set)
	if st := fstatT(t, f); st.Nlink != 0 {
		t.Errorf("open handle after rm by another process: nlink %d, want 0", st.Nlink)
	}
}

// TestSemCacheCtlCreate: a name that no set has, looked up twice (the
// second look may come from the kernel's cache), names the set that a
// ctl IPC_CREAT makes as soon as the command is done.
func TestSemCacheCtlCreate(t *testing.T) {
	mnt := mountShmfs(t)
	dir := mnt + "/default/sem/"
	set := dir + "0x0000cac7"
	priv := dir + "private.0"
	for _, p := range []string{set, priv} {
		mustNotExist(t, p, "before IPC_CREAT")
		if _, err := sh(t, "test -e "+p); err == nil {
			t.Fatalf("%s exists before IPC_CREAT", p)
		}
	}
	if got := shOK(t, "exec 3<>"+dir+"ctl; echo IPC_CREAT key=IPC_PRIVATE nsems=2 >&3; cat <&3"); got != "0 private.0\n" {
		t.Fatalf("IPC_CREAT IPC_PRIVATE: %q", got)
	}
	shOK(t, "echo IPC_CREAT key=0xcac7 nsems=3 mode=0640 > "+dir+"ctl")
	for p, want := range map[string]string{set: "0 0 0", priv: "0 0"} {
		f, err := os.Open(p)
		if err != nil {
			t.Errorf("open %s after IPC_CREAT: %v", p, err)
			continue
		}
		b := make([]byte, 64)
		n, _ := f.Read(b)
		f.Close()
		if got := string(b[:n]); got != want+"\n" {
			t.Errorf("%s: values %q, want %q", p, got, want)
		}
	}
	if st := statT(t, set); st.Mode != syscall.S_IFREG|0o640 {
		t.Errorf("%s: mode %o", set, st.Mode)
	}
}
