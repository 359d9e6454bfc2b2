package fs

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/backing"
	"github.com/shmfs/shmfs/nsmodel"
)

// TestHeldMaps: a released handle whose process still maps the pages
// keeps its attach until the mapping goes; one with no mapping detaches
// at the next look at the maps (settle), not at its release. The test
// process maps a segment's memfd itself and watches for the memfd's own
// device and inode.
func TestHeldMaps(t *testing.T) {
	ns := nsmodel.NewModel(backing.New).Get(nsmodel.DefaultNamespace)
	c := nsmodel.RootCred()
	s, err := ns.Shm.Open(c, nsmodel.ShmGet{Key: 1, Size: 8192, Mode: 0o600, Create: true, Access: nsmodel.AccessRead | nsmodel.AccessWrite})
	if err != nil {
		t.Fatal(err)
	}
	if err := ns.Shm.Attach(c, s, nsmodel.AccessRead); err != nil {
		t.Fatal(err)
	}
	nattch := func() uint64 { return ns.Shm.Stat(s).Nattch }
	var st unix.Stat_t
	if err := unix.Fstat(s.Fd(), &st); err != nil {
		t.Fatal(err)
	}
	w := newHeldMaps(unix.Major(st.Dev), unix.Minor(st.Dev))
	pid := int32(os.Getpid())

	mem, err := unix.Mmap(s.Fd(), 0, 8192, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	w.release(ns.Shm, s, pid, st.Ino)
	w.release(ns.Shm, s, pid, st.Ino)
	if nattch() != 2 {
		t.Fatalf("a release read the maps: nattch %d", nattch())
	}
	// One mapping holds one attach.
	w.settle(nil)
	if nattch() != 1 {
		t.Fatalf("one mapping held %d attaches", nattch())
	}
	w.settle(nil)
	if nattch() != 1 {
		t.Fatalf("settle dropped a live mapping's attach: nattch %d", nattch())
	}
	other, err := ns.Shm.Open(c, nsmodel.ShmGet{Key: 2, Size: 4096, Mode: 0o600, Create: true, Access: nsmodel.AccessRead})
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Munmap(mem); err != nil {
		t.Fatal(err)
	}
	w.settle(other)
	w.settleRemoved()
	if nattch() != 1 {
		t.Fatalf("settling another segment, or removed ones, ended this one's attach: nattch %d", nattch())
	}
	w.settle(s)
	if nattch() != 0 {
		t.Fatalf("after munmap: nattch %d", nattch())
	}
	if len(w.held) != 0 {
		t.Fatalf("still held: %d", len(w.held))
	}
	// A process that is gone maps nothing.
	if m := w.mappings(1 << 30); len(m) != 0 {
		t.Fatalf("mappings of no process: %v", m)
	}
}

// TestHeldMapsRemoved: a removed segment goes at its last detach: a
// release of its handle with no mapping left destroys it at once, and an
// attach held by a mapping when it was removed ends, and the segment
// with it, at the next create's settleRemoved.
func TestHeldMapsRemoved(t *testing.T) {
	ns := nsmodel.NewModel(backing.New).Get(nsmodel.DefaultNamespace)
	c := nsmodel.RootCred()
	get := func(key int32) (*nsmodel.Shm, uint64) {
		s, err := ns.Shm.Open(c, nsmodel.ShmGet{Key: key, Size: 4096, Mode: 0o600, Create: true, Access: nsmodel.AccessRead | nsmodel.AccessWrite})
		if err != nil {
			t.Fatal(err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(s.Fd(), &st); err != nil {
			t.Fatal(err)
		}
		return s, st.Ino
	}
	a, inoA := get(1)
	b, inoB := get(2)
	var st unix.Stat_t
	if err := unix.Fstat(a.Fd(), &st); err != nil {
		t.Fatal(err)
	}
	w := newHeldMaps(unix.Major(st.Dev), unix.Minor(st.Dev))
	pid := int32(os.Getpid())
	gone := func(s *nsmodel.Shm) bool { return ns.Shm.Stat(s).Deleted }

	// a: removed while attached, then its handle released unmapped.
	if err := ns.Shm.Remove(c, a); err != nil {
		t.Fatal(err)
	}
	w.removed(a)
	w.release(ns.Shm, a, pid, inoA)
	if !gone(a) {
		t.Fatal("the last release of a removed segment did not destroy it")
	}

	// b: its handle released while mapped, then removed.
	mem, err := unix.Mmap(b.Fd(), 0, 4096, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	w.release(ns.Shm, b, pid, inoB)
	w.settle(b)
	if err := ns.Shm.Remove(c, b); err != nil {
		t.Fatal(err)
	}
	w.removed(b)
	w.settleRemoved()
	if gone(b) {
		t.Fatal("a removed segment went while mapped")
	}
	if err := unix.Munmap(mem); err != nil {
		t.Fatal(err)
	}
	w.settleRemoved()
	if !gone(b) {
		t.Fatal("a removed segment outlived its last mapping past settleRemoved")
	}
}
