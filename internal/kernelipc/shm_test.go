package kernelipc_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/shmfs/shmfs/internal/kernelipc"
	"golang.org/x/sys/unix"
)

func nattch(t *testing.T, id int) uint64 {
	t.Helper()
	var ds unix.SysvShmDesc
	if _, err := unix.SysvShmCtl(id, unix.IPC_STAT, &ds); err != nil {
		t.Fatal(err)
	}
	return ds.Nattch
}

// The attach's file is the segment's pages: a write through it, and a
// store through its MAP_SHARED mapping, are seen at once through a
// shmat of the segment, and the other way round; the attach counts in
// shm_nattch until Close.
func TestAttachFileIsTheSegment(t *testing.T) {
	_, ns := selfNS(t, kernelipc.Bounds{})
	id := shmgetHere(t, 0x5e6, 3*4096+100, unix.IPC_CREAT|0o600)
	mine, err := unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.SysvShmDetach(mine)
	if n := nattch(t, id); n != 1 {
		t.Fatalf("nattch %d before", n)
	}
	a, err := ns.ShmAttach(root(), id, true)
	if err != nil {
		t.Fatal(err)
	}
	if a.Size != 3*4096+100 {
		t.Errorf("size %d", a.Size)
	}
	if n := nattch(t, id); n != 2 {
		t.Errorf("nattch %d with the server's attach, want 2", n)
	}
	if st, err := a.File.Stat(); err != nil || st.Size() != int64(a.Size) {
		t.Errorf("file size %v, %v", st, err)
	}
	if _, err := a.File.WriteAt([]byte("written"), 4096); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mine[4096:4103], []byte("written")) {
		t.Errorf("shmat sees %q after a write", mine[4096:4103])
	}
	m, err := unix.Mmap(int(a.File.Fd()), 0, int(a.Size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	m[3*4096+99] = 'Z'
	if mine[3*4096+99] != 'Z' {
		t.Error("a store through the file's mapping is not seen by the shmat")
	}
	mine[7] = 'Q'
	if m[7] != 'Q' {
		t.Error("a store through the shmat is not seen through the file's mapping")
	}
	// The file is the shmem file of the segment, opened by path: its
	// mmap is shmem's, not shm_mmap, so the mapping itself is not
	// counted; the server's attach, held as long as the file, is.
	if n := nattch(t, id); n != 2 {
		t.Errorf("nattch %d with the file mapped, want 2 (the shmat and the server's attach)", n)
	}
	unix.Munmap(m)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if n := nattch(t, id); n != 1 {
		t.Errorf("nattch %d after Close, want 1", n)
	}
}

// A read-only attach needs only read permission; a removed segment lives
// while attached and is destroyed at the last detach.
func TestAttachReadOnlyAndRemoval(t *testing.T) {
	_, ns := selfNS(t, kernelipc.Bounds{})
	id, err := ns.ShmGet(root(), 0x7e7, 4096, unix.IPC_CREAT|unix.IPC_EXCL|0o644)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := unix.SysvShmGet(0x7e7, 0, 0); err != nil || got != id {
		t.Fatalf("shmget(key, 0, 0) = %d, %v; want %d", got, err, id)
	}
	_, err = ns.ShmGet(root(), 0x7e7, 4096, unix.IPC_CREAT|unix.IPC_EXCL|0o644)
	wantErrno(t, "IPC_EXCL again", err, unix.EEXIST)
	ro, err := ns.ShmAttach(nobody(), id, false)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ns.ShmAttach(nobody(), id, true)
	wantErrno(t, "read-write attach of a 0644 segment by 65534", err, unix.EACCES)
	if err := ns.ShmRmid(root(), id); err != nil {
		t.Fatal(err)
	}
	segs, err := ns.ListShm(root())
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, s := range segs {
		if s.ID == id {
			found = true
			if s.Key != 0 || s.Mode&kernelipc.ShmDest == 0 || s.Nattch != 1 {
				t.Errorf("removed, attached segment listed as %+v", s)
			}
		}
	}
	if !found {
		t.Error("a removed segment that is still attached is not listed")
	}
	ro.Close()
	if _, err := ns.ShmStatAny(id); err == nil {
		t.Error("the segment outlived its last detach")
	}
}

// The listing is /proc/sysvipc/shm of the namespace, and ShmStatAny
// agrees with it; ctl commands are the kernel's.
func TestShmListStatLockSet(t *testing.T) {
	_, ns := selfNS(t, kernelipc.Bounds{})
	id := shmgetHere(t, 0x1157, 10000, unix.IPC_CREAT|0o640)
	priv := shmgetHere(t, unix.IPC_PRIVATE, 4096, 0o600)
	got, err := ns.Sysvipc(root(), "shm")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile("/proc/sysvipc/shm")
	if !bytes.Equal(got, want) {
		t.Errorf("sysvipc/shm differs from the test's own:\n%s\n%s", got, want)
	}
	segs, err := kernelipc.ParseShm(got)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[int]kernelipc.ShmInfo{}
	for _, s := range segs {
		ids[s.ID] = s
	}
	if s := ids[id]; s.Key != 0x1157 || s.Size != 10000 || s.Mode != 0o640 {
		t.Errorf("listed %+v", s)
	}
	if s, ok := ids[priv]; !ok || s.Key != 0 {
		t.Errorf("private segment listed %+v, %v", s, ok)
	}
	ds, err := ns.ShmStatAny(id)
	if err != nil || ds.Segsz != 10000 || ds.Perm.Mode != 0o640 {
		t.Errorf("ShmStatAny %+v, %v", ds, err)
	}
	_, err = ns.ShmStatAny(id + 32768)
	wantErrno(t, "ShmStatAny of a stale id", err, unix.EINVAL)

	wantErrno(t, "SHM_LOCK by 65534", ns.ShmLock(nobody(), id, true), unix.EPERM)
	if err := ns.ShmLock(root(), id, true); err != nil {
		t.Fatal(err)
	}
	if ds, _ := ns.ShmStatAny(id); ds.Perm.Mode&kernelipc.ShmLocked == 0 {
		t.Errorf("mode %o after SHM_LOCK", ds.Perm.Mode)
	}
	ns.ShmLock(root(), id, false)
	uid, mode := uint32(1000), uint32(0o604)
	if err := ns.ShmSet(root(), id, kernelipc.SetAttr{UID: &uid, Mode: &mode}); err != nil {
		t.Fatal(err)
	}
	if ds, _ := ns.ShmStatAny(id); ds.Perm.Uid != 1000 || ds.Perm.Gid != 0 || ds.Perm.Mode != 0o604 {
		t.Errorf("after IPC_SET: uid %d gid %d mode %o", ds.Perm.Uid, ds.Perm.Gid, ds.Perm.Mode)
	}
	_, err = ns.ShmGet(root(), 0x1157, 20000, 0)
	wantErrno(t, "shmget larger than the segment", err, unix.EINVAL)
}
