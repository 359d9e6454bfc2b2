package backing_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/backing"
)

var page = int64(os.Getpagesize())

func TestMemfd(t *testing.T) {
	p, err := backing.New("test", false)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if fl, err := unix.FcntlInt(uintptr(p.Fd()), unix.F_GETFD, 0); err != nil || fl&unix.FD_CLOEXEC == 0 {
		t.Errorf("memfd flags %#x, %v: want close-on-exec", fl, err)
	}
	if err := p.Truncate(10 * page); err != nil {
		t.Fatal(err)
	}
	u, err := p.Stat()
	if err != nil || u.Size != 10*page || u.Resident != 0 {
		t.Errorf("new 10-page store: %+v, %v", u, err)
	}
	unix.Pwrite(p.Fd(), []byte{1}, 3*page)
	if u, _ := p.Stat(); u.Resident != page {
		t.Errorf("one page touched: %+v", u)
	}
	// A write past the end grows it, as a passthrough write would.
	unix.Pwrite(p.Fd(), []byte{1}, 12*page)
	if u, _ := p.Stat(); u.Size != 12*page+1 || u.Resident != 2*page {
		t.Errorf("after a write past the end: %+v", u)
	}

	// Lock faults every page in; a second lock replaces the first.
	if err := p.Lock(4 * page); err != nil {
		t.Fatal(err)
	}
	if u, _ := p.Stat(); u.Resident != 5*page {
		t.Errorf("4 pages locked, 1 more touched: %+v", u)
	}
	if err := p.Lock(8 * page); err != nil {
		t.Fatal(err)
	}
	if u, _ := p.Stat(); u.Resident != 9*page {
		t.Errorf("8 pages locked, 1 more touched: %+v", u)
	}
	if err := p.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := p.Truncate(page); err != nil {
		t.Fatal(err)
	}
	if u, _ := p.Stat(); u.Size != page || u.Resident != page {
		t.Errorf("truncated to one page: %+v", u)
	}

	// Close releases the descriptor.
	fd := p.Fd()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != unix.EBADF {
		t.Errorf("descriptor still open after Close: %v", err)
	}
}

// TestMemfdHuge: a huge page store is sized in whole huge pages, and
// reports the size it was asked for, as a SHM_HUGETLB segment keeps
// shm_segsz.
func TestMemfdHuge(t *testing.T) {
	p, err := backing.New("huge", true)
	if err != nil {
		t.Skipf("no huge page memfd here: %v", err)
	}
	defer p.Close()
	var st unix.Stat_t
	unix.Fstat(p.Fd(), &st)
	huge := st.Blksize
	if err := p.Truncate(5000); err != nil {
		t.Fatal(err)
	}
	unix.Fstat(p.Fd(), &st)
	if st.Size != huge {
		t.Errorf("5000 bytes of huge pages: memfd of %d bytes, want %d", st.Size, huge)
	}
	if u, err := p.Stat(); err != nil || u.Size != 5000 {
		t.Errorf("Stat: %+v, %v", u, err)
	}
	if err := p.Truncate(huge + 1); err != nil {
		t.Fatal(err)
	}
	if u, _ := p.Stat(); u.Size != huge+1 {
		t.Errorf("Stat after growing: %+v", u)
	}
}

// TestSealRegrow: a sealed store refuses growth from anyone; Regrow
// replaces it under the same descriptor with the written bytes kept,
// sparse, sealed, under the same name.
func TestSealRegrow(t *testing.T) {
	p, err := backing.New("shmfs:test:00000001", false)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Truncate(4 * page)
	if err := p.Seal(); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Pwrite(p.Fd(), []byte{1}, 4*page); err != unix.EPERM {
		t.Errorf("write past a sealed end: %v", err)
	}
	if err := p.Truncate(5 * page); err != unix.EPERM {
		t.Errorf("truncate up a sealed store: %v", err)
	}
	unix.Pwrite(p.Fd(), []byte("abc"), 2*page+5)
	fd := p.Fd()
	if err := p.Regrow(8 * page); err != nil {
		t.Fatal(err)
	}
	u, _ := p.Stat()
	buf := make([]byte, 3)
	unix.Pread(p.Fd(), buf, 2*page+5)
	if p.Fd() != fd || u.Size != 8*page || u.Resident != page || string(buf) != "abc" {
		t.Errorf("regrown: fd %d (was %d), %+v, %q", p.Fd(), fd, u, buf)
	}
	if _, err := unix.Pwrite(p.Fd(), []byte{1}, 8*page); err != unix.EPERM {
		t.Errorf("write past a regrown end: %v", err)
	}
	if l, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(p.Fd())); !strings.Contains(l, "shmfs:test:00000001") {
		t.Errorf("regrown memfd is %q", l)
	}
	if end, _ := p.DataEnd(0, 8*page); end != 2*page+8 {
		t.Errorf("DataEnd: %d", end)
	}
}
