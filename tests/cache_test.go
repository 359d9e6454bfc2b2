package tests

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The kernel caches segment names and attributes, and the names that do
// not exist (fs/cache.go). These tests cache an entry, change the model
// in a way the kernel does not see (a ctl command, an attach), and check
// that the next look, from another process, sees the change at once.
// Each change is made by a separate process (sh, or the C driver); each
// look is made by this test process, whose own earlier look cached the
// entry (the kernel's cache is shared by every process of the mount).

func statT(t *testing.T, path string) *syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	return &st
}

func fstatT(t *testing.T, f *os.File) *syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatalf("fstat %s: %v", f.Name(), err)
	}
	return &st
}

func mustNotExist(t *testing.T, path, when string) {
	t.Helper()
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stat %s %s: %v, want ENOENT", path, when, err)
	}
	if f, err := os.Open(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("open %s %s: %v, want ENOENT", path, when, err)
		if f != nil {
			f.Close()
		}
	}
}

// TestCacheCtlRemove: IPC_RMID through shm/ctl takes the name away at
// once for a process that had it cached, whether the command was written
// by sh (the close waits) or by a program that reads the result back;
// an open handle of the segment sees nlink 0; the key made anew names
// the new segment.
func TestCacheCtlRemove(t *testing.T) {
	mnt := mountShmfs(t)
	shm := mnt + "/default/shm/"
	ctl := shm + "ctl"
	c := startDriver(t, "c", -1, -1)
	for i, remove := range []func(key string){
		func(key string) { shOK(t, "echo IPC_RMID "+key+" > "+ctl) },
		func(key string) { c.ok("ctl %s IPC_RMID %s", ctl, key) },
	} {
		key := fmt.Sprintf("0x%08x", 0xcace0+i)
		seg := shm + key
		shOK(t, "echo data > "+seg)
		first := statT(t, seg)
		f, err := os.Open(seg)
		if err != nil {
			t.Fatal(err)
		}
		if st := fstatT(t, f); st.Nlink != 1 || st.Ino != first.Ino {
			t.Fatalf("%s: open handle: nlink %d ino %d, want 1 %d", key, st.Nlink, st.Ino, first.Ino)
		}
		remove(key)
		mustNotExist(t, seg, "after IPC_RMID through ctl")
		if out := shOK(t, "ls "+shm); strings.Contains(out, key) {
			t.Errorf("%s: ls after IPC_RMID: %q", key, out)
		}
		if st := fstatT(t, f); st.Nlink != 0 {
			t.Errorf("%s: an open handle after IPC_RMID: nlink %d, want 0", key, st.Nlink)
		}
		r := shmByKey(shmTable(t, mnt+"/default/sysvipc/shm"), 0)
		if r == nil || r.Perms&0o1000 == 0 || r.Nattch != 1 {
			t.Errorf("%s: the removed, attached segment: %+v, want SHM_DEST and nattch 1", key, r)
		}
		// The key is free: a new segment, which the name now gives.
		shOK(t, "echo new > "+seg)
		if st := statT(t, seg); st.Ino == first.Ino || st.Size != 4 {
			t.Errorf("%s made anew: ino %d size %d, want a new inode of 4 bytes (old %d)", key, st.Ino, st.Size, first.Ino)
		}
		f.Close()
	}
}

// TestCacheCtlCreate: a name looked up while no segment had it (the
// kernel keeps that answer) can be opened at once after IPC_CREAT through
// shm/ctl makes it, by key and as private.<id>; so can a queue's name
// after IPC_CREAT through msg/ctl.
func TestCacheCtlCreate(t *testing.T) {
	mnt := mountShmfs(t)
	shm := mnt + "/default/shm/"
	seg := shm + "0x0000cace"
	priv := shm + "private.0"
	q := mnt + "/default/msg/0x0000cace"
	for _, p := range []string{seg, priv, q} {
		mustNotExist(t, p, "before IPC_CREAT")
		// A second look, from another process, that the kernel may
		// answer from its cache.
		if _, err := sh(t, "test -e "+p); err == nil {
			t.Fatalf("%s exists before IPC_CREAT", p)
		}
	}
	if got := shOK(t, "exec 3<>"+shm+"ctl; echo IPC_CREAT key=IPC_PRIVATE size=100 >&3; cat <&3"); got != "0 private.0\n" {
		t.Fatalf("IPC_CREAT IPC_PRIVATE: %q", got)
	}
	shOK(t, "echo IPC_CREAT key=0xcace size=8192 mode=0640 > "+shm+"ctl")
	shOK(t, "echo IPC_CREAT key=0xcace mode=0640 > "+mnt+"/default/msg/ctl")
	for p, size := range map[string]int64{seg: 8192, priv: 100} {
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatalf("open %s after IPC_CREAT: %v", p, err)
		}
		if st := fstatT(t, f); st.Size != size {
			t.Errorf("%s: size %d, want %d", p, st.Size, size)
		}
		f.Close()
	}
	if st := statT(t, seg); st.Mode != syscall.S_IFREG|0o640 {
		t.Errorf("%s: mode %o", seg, st.Mode)
	}
	f, err := os.OpenFile(q, os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("open %s after IPC_CREAT: %v", q, err)
	}
	f.Close()
}

// TestCacheCtlSet: IPC_SET, SHM_LOCK and SHM_UNLOCK through shm/ctl
// reach the attributes that a process had cached, by name and on an open
// handle, before the command's result is read back.
func TestCacheCtlSet(t *testing.T) {
	mnt := mountShmfs(t)
	shm := mnt + "/default/shm/"
	seg := shm + "0x0000cac5"
	c := startDriver(t, "c", -1, -1)
	c.ok("ctl %sctl IPC_CREAT key=0xcac5 size=16384 mode=0600", shm)
	f, err := os.Open(seg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if st := statT(t, seg); st.Mode != syscall.S_IFREG|0o600 || st.Uid != 0 || st.Blocks != 0 {
		t.Fatalf("before: mode %o uid %d blocks %d", st.Mode, st.Uid, st.Blocks)
	}
	c.ok("ctl %sctl IPC_SET 0xcac5 mode=0604 uid=65534 gid=65534", shm)
	for what, st := range map[string]*syscall.Stat_t{"stat": statT(t, seg), "fstat": fstatT(t, f)} {
		if st.Mode != syscall.S_IFREG|0o604 || st.Uid != 65534 || st.Gid != 65534 {
			t.Errorf("%s after IPC_SET: mode %o uid %d gid %d", what, st.Mode, st.Uid, st.Gid)
		}
	}
	// SHM_LOCK faults every page in: st_blocks is the resident pages.
	c.ok("ctl %sctl SHM_LOCK 0xcac5", shm)
	if st := statT(t, seg); st.Blocks != 16384/512 {
		t.Errorf("after SHM_LOCK: blocks %d, want %d", st.Blocks, 16384/512)
	}
	c.ok("ctl %sctl SHM_UNLOCK 0xcac5", shm)
	// chmod through the mount: the kernel keeps what the reply says.
	shOK(t, "chmod 0660 "+seg)
	if st := fstatT(t, f); st.Mode != syscall.S_IFREG|0o660 {
		t.Errorf("after chmod: mode %o", st.Mode)
	}
}

// TestCacheAttachTime: an attach by another process sets shm_atim, which
// stat shows as atime, at once, though the attributes were cached before
// it.
func TestCacheAttachTime(t *testing.T) {
	mnt := mountShmfs(t)
	shm := mnt + "/default/shm/"
	seg := shm + "0x0000ca7e"
	before := time.Now().Unix()
	shOK(t, "echo IPC_CREAT key=0xca7e size=4096 > "+shm+"ctl")
	if st := statT(t, seg); st.Atim.Sec != 0 {
		t.Fatalf("atime of a segment never attached: %d", st.Atim.Sec)
	}
	c := startDriver(t, "c", -1, -1)
	c.ok("open %s r", seg)
	r := shmByKey(shmTable(t, mnt+"/default/sysvipc/shm"), 0xca7e)
	if st := statT(t, seg); r == nil || r.Atime < before || st.Atim.Sec != r.Atime {
		t.Errorf("after an attach: stat atime %d, sysvipc %+v", st.Atim.Sec, r)
	}
}

// TestCacheQueue: a queue's attributes, cached on every inode the kernel
// holds of it (one per lookup of its name), follow a chmod through
// another lookup, IPC_SET and IPC_RMID through msg/ctl, and a send by
// another process.
func TestCacheQueue(t *testing.T) {
	mnt := mountShmfs(t)
	ctl := mnt + "/default/msg/ctl"
	q := newMsgQueue(t, mnt, 0xcac0)
	f, err := os.OpenFile(q, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mode := func() uint32 { return fstatT(t, f).Mode &^ syscall.S_IFMT }
	if mode() != 0o666 {
		t.Fatalf("mode %o", mode())
	}
	shOK(t, "chmod 0640 "+q)
	if mode() != 0o640 {
		t.Errorf("open handle after chmod by another process: mode %o, want 640", mode())
	}
	if _, err := msgCtl(t, ctl, "IPC_SET 0xcac0 mode=0604"); err != nil {
		t.Fatal(err)
	}
	if mode() != 0o604 {
		t.Errorf("open handle after IPC_SET: mode %o, want 604", mode())
	}
	shOK(t, "echo hello > "+q+",mtext")
	if st, r := fstatT(t, f), msgByKey(t, mnt, 0xcac0); r.Stime == 0 || st.Mtim.Sec != r.Stime {
		t.Errorf("open handle after a send: mtime %d, sysvipc stime %d", st.Mtim.Sec, r.Stime)
	}
	if _, err := msgCtl(t, ctl, "IPC_RMID 0xcac0"); err != nil {
		t.Fatal(err)
	}
	if st := fstatT(t, f); st.Nlink != 0 {
		t.Errorf("open handle after IPC_RMID: nlink %d", st.Nlink)
	}
	mustNotExist(t, q, "after IPC_RMID")
}

// TestCacheCtlUnlinkRace writes ctl commands that drop names from the
// kernel's cache while another process keeps trying to unlink ctl
// itself, which holds the table directory's lock while it waits for the
// ctl file's: neither may wait for the other for ever.
func TestCacheCtlUnlinkRace(t *testing.T) {
	mnt := mountShmfs(t)
	shm := mnt + "/default/shm"
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, script := range []string{
		fmt.Sprintf(`i=0; while [ $i -lt 200 ]; do echo IPC_CREAT key=0xcade size=4096 > %[1]s/ctl && stat %[1]s/0x0000cade >/dev/null && echo IPC_RMID 0xcade > %[1]s/ctl || exit 1; i=$((i+1)); done`, shm),
		fmt.Sprintf(`i=0; while [ $i -lt 200 ]; do rm -f %[1]s/ctl 2>/dev/null; i=$((i+1)); done; test -e %[1]s/ctl`, shm),
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := runCmd(t, nil, "timeout", "60", "sh", "-c", script); err != nil {
				errs <- fmt.Errorf("%v: %s", err, out)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	mustNotExist(t, filepath.Join(shm, "0x0000cade"), "at the end")
}
