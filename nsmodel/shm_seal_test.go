package nsmodel_test

import (
	"bytes"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/nsmodel"
)

// TestSealedPagesRefuseGrowth: once a segment has a size, nothing that
// reaches its pages without the server (as FUSE passthrough does: a
// write past the end, fallocate, copy_file_range) can grow them: EPERM,
// and the size, the memfd and shm_tot stay as they were.
func TestSealedPagesRefuseGrowth(t *testing.T) {
	tab, ns, _ := shmTable(t)
	setLimit(t, ns, "shmall", "3")
	s := create(t, tab, owner(), 0x42, page, 0o600)
	if _, err := unix.Pwrite(s.Fd(), []byte{1}, int64(64<<20)); err != unix.EPERM {
		t.Errorf("a write at 64 MiB into a 1-page segment: %v, want EPERM", err)
	}
	if n, err := unix.Pwrite(s.Fd(), []byte("ab"), int64(page-1)); n != 1 || err != nil {
		t.Errorf("a write across the end: %d, %v, want 1 byte written", n, err)
	}
	if err := unix.Fallocate(s.Fd(), 0, 0, int64(2*page)); err != unix.EPERM {
		t.Errorf("fallocate past the end: %v, want EPERM", err)
	}
	if err := unix.Fallocate(s.Fd(), unix.FALLOC_FL_KEEP_SIZE, 0, int64(2*page)); err != unix.EPERM {
		t.Errorf("fallocate KEEP_SIZE past the end: %v, want EPERM", err)
	}
	src, _ := unix.MemfdCreate("src", 0)
	defer unix.Close(src)
	unix.Pwrite(src, []byte("x"), 0)
	in, out := int64(0), int64(8*page)
	if _, err := unix.CopyFileRange(src, &in, s.Fd(), &out, 1, 0); err != unix.EPERM {
		t.Errorf("copy_file_range past the end: %v, want EPERM", err)
	}
	if st := tab.Stat(s); st.Size != page || memfdSize(t, s) != int64(page) {
		t.Errorf("after refused growth: size %d, memfd %d", st.Size, memfdSize(t, s))
	}
	// shm_tot did not move: the two pages left in shmall are there.
	create(t, tab, owner(), 0x43, 2*page, 0o600)
	// Within the size, writes land.
	if _, err := unix.Pwrite(s.Fd(), []byte("in"), int64(page-2)); err != nil {
		t.Errorf("a write within the size: %v", err)
	}
}

// TestFirstSizeSeals: a segment made empty by open(O_CREAT) gets its size
// from its first ftruncate, and is sealed from then on. A growth of its
// pages that the server did not make (a passthrough write into the empty
// segment) is taken as that first size when it fits the limits, and cut
// back when it does not.
func TestFirstSizeSeals(t *testing.T) {
	tab, ns, _ := shmTable(t)
	setLimit(t, ns, "shmmax", fmt.Sprint(4*page))
	open := func(key int32) *nsmodel.Shm {
		s, err := tab.Open(owner(), nsmodel.ShmGet{Key: key, Mode: 0o600, Create: true, AllowEmpty: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a := open(0x1)
	wantErr(t, "first size", tab.Truncate(owner(), a, 2*page, false), nil)
	if _, err := unix.Pwrite(a.Fd(), []byte{1}, int64(3*page)); err != unix.EPERM {
		t.Errorf("write past the first size: %v, want EPERM", err)
	}

	b := open(0x2)
	if _, err := unix.Pwrite(b.Fd(), []byte{1}, int64(page)); err != nil {
		t.Fatal(err)
	}
	if st := tab.Stat(b); st.Size != page+1 {
		t.Errorf("a write into the empty segment: size %d, want %d", st.Size, page+1)
	}
	if _, err := unix.Pwrite(b.Fd(), []byte{1}, int64(3*page)); err != unix.EPERM {
		t.Errorf("write past the size taken in: %v, want EPERM", err)
	}

	c := open(0x3)
	if _, err := unix.Pwrite(c.Fd(), []byte{1}, int64(64<<20)); err != nil {
		t.Fatal(err)
	}
	if st := tab.Stat(c); st.Size != 0 || memfdSize(t, c) != 0 {
		t.Errorf("a write past shmmax into the empty segment: size %d, memfd %d, want both 0", st.Size, memfdSize(t, c))
	}
}

// TestResizeHeld: a segment that an attach holds keeps its pages' size
// (processes map and write them directly): shrinking zeroes and frees
// the tail, growing back within it shows zeros, growing past it is
// EPERM; shmall counts the pages until the last detach cuts them. A
// segment no one holds is resized for real, its bytes kept.
func TestResizeHeld(t *testing.T) {
	tab, ns, _ := shmTable(t)
	setLimit(t, ns, "shmall", "4")
	s := create(t, tab, owner(), 0x42, 3*page, 0o600)
	unix.Pwrite(s.Fd(), []byte("keep"), 0)
	unix.Pwrite(s.Fd(), []byte("tail"), int64(2*page))
	wantErr(t, "attach", tab.Attach(owner(), s, nsmodel.AccessWrite), nil)

	wantErr(t, "shrink while held", tab.Truncate(owner(), s, page, false), nil)
	if st := tab.Stat(s); st.Size != page || memfdSize(t, s) != int64(3*page) || st.Resident != int64(page) {
		t.Errorf("shrunk while held: size %d, memfd %d, resident %d", st.Size, memfdSize(t, s), st.Resident)
	}
	_, err := tab.Get(owner(), nsmodel.ShmGet{Key: 0x43, Size: 2 * page, Mode: 0o600, Create: true})
	wantErr(t, "shmall counts the held pages", err, unix.ENOSPC)
	wantErr(t, "grow back within the pages", tab.Truncate(owner(), s, 3*page, false), nil)
	buf := make([]byte, 4)
	unix.Pread(s.Fd(), buf, int64(2*page))
	if !bytes.Equal(buf, make([]byte, 4)) {
		t.Errorf("a shrunk then grown segment shows %q", buf)
	}
	// A process writes past the end into pages it still maps, as a
	// passthrough write does: the size follows, as a file's would.
	wantErr(t, "shrink while held", tab.Truncate(owner(), s, page, false), nil)
	unix.Pwrite(s.Fd(), []byte("late\x00"), int64(2*page))
	if st := tab.Stat(s); st.Size != 2*page+4 {
		t.Errorf("a write past the end of pages kept through a shrink: size %d, want %d", st.Size, 2*page+4)
	}
	wantErr(t, "grow back within the pages", tab.Truncate(owner(), s, 3*page, false), nil)
	unix.Pread(s.Fd(), buf, int64(2*page))
	if string(buf) != "late" {
		t.Errorf("the write past the end reads back %q", buf)
	}
	wantErr(t, "grow past the pages while held", tab.Truncate(owner(), s, 4*page, false), unix.EPERM)
	wantErr(t, "write growth past the pages while held", tab.Extend(s, 3*page+1), unix.EPERM)
	if st := tab.Stat(s); st.Size != 3*page {
		t.Errorf("refused growth changed the size to %d", st.Size)
	}

	wantErr(t, "shrink while held", tab.Truncate(owner(), s, page, false), nil)
	tab.Detach(s, 1)
	if memfdSize(t, s) != int64(page) {
		t.Errorf("the last detach left the pages at %d bytes", memfdSize(t, s))
	}
	create(t, tab, owner(), 0x43, 2*page, 0o600) // 1 + 2 of 4
	wantErr(t, "grow past shmall", tab.Truncate(owner(), s, 3*page, false), unix.ENOSPC)
	wantErr(t, "grow no one holds", tab.Truncate(owner(), s, 2*page, false), nil)
	unix.Pread(s.Fd(), buf, 0)
	if string(buf) != "keep" || memfdSize(t, s) != int64(2*page) {
		t.Errorf("regrown: %q, memfd %d", buf, memfdSize(t, s))
	}
	if _, err := unix.Pwrite(s.Fd(), []byte{1}, int64(2*page)); err != unix.EPERM {
		t.Errorf("the regrown pages are not sealed: %v", err)
	}
}

// TestAllocate: fallocate on a segment, each mode, within the limits.
func TestAllocate(t *testing.T) {
	tab, ns, _ := shmTable(t)
	setLimit(t, ns, "shmmax", fmt.Sprint(4*page))
	setLimit(t, ns, "shmall", "5")
	s := create(t, tab, owner(), 0x42, page, 0o600)
	wantErr(t, "mode 0 within", tab.Allocate(s, 0, 0, page), nil)
	if st := tab.Stat(s); st.Resident != int64(page) || st.Size != page {
		t.Errorf("allocated: %+v", st)
	}
	wantErr(t, "mode 0 grows", tab.Allocate(s, 0, page, page), nil)
	// (Growing pages no one holds makes new ones, which hold the old
	// bytes but not a preallocation.)
	if st := tab.Stat(s); st.Size != 2*page || st.Resident < int64(page) {
		t.Errorf("grown by fallocate: %+v", st)
	}
	wantErr(t, "mode 0 past shmmax", tab.Allocate(s, 0, 0, 4*page+1), unix.EFBIG)
	wantErr(t, "KEEP_SIZE past the end", tab.Allocate(s, nsmodel.FallocKeepSize, 0, 4*page), nil)
	if st := tab.Stat(s); st.Size != 2*page || st.Resident != int64(2*page) || memfdSize(t, s) != int64(2*page) {
		t.Errorf("KEEP_SIZE allocated past the end: %+v", st)
	}
	unix.Pwrite(s.Fd(), []byte("data"), 10)
	wantErr(t, "ZERO_RANGE", tab.Allocate(s, nsmodel.FallocZeroRange|nsmodel.FallocKeepSize, 10, 2), nil)
	buf := make([]byte, 4)
	unix.Pread(s.Fd(), buf, 10)
	if string(buf) != "\x00\x00ta" {
		t.Errorf("after ZERO_RANGE: %q", buf)
	}
	wantErr(t, "PUNCH_HOLE", tab.Allocate(s, nsmodel.FallocPunchHole|nsmodel.FallocKeepSize, 0, 2*page), nil)
	if st := tab.Stat(s); st.Size != 2*page || st.Resident != 0 {
		t.Errorf("after PUNCH_HOLE: %+v", st)
	}
	wantErr(t, "PUNCH_HOLE without KEEP_SIZE", tab.Allocate(s, nsmodel.FallocPunchHole, 0, page), unix.EOPNOTSUPP)
	wantErr(t, "COLLAPSE_RANGE", tab.Allocate(s, unix.FALLOC_FL_COLLAPSE_RANGE, 0, page), unix.EOPNOTSUPP)
	wantErr(t, "length 0", tab.Allocate(s, 0, 0, 0), unix.EINVAL)
	b := create(t, tab, owner(), 0x43, 2*page, 0o600)
	wantErr(t, "ZERO_RANGE grows past shmall", tab.Allocate(b, nsmodel.FallocZeroRange, 0, 4*page), unix.ENOSPC)
	if st := tab.Stat(b); st.Size != 2*page {
		t.Errorf("refused fallocate changed the size: %+v", st)
	}
}
