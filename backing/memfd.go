// Package backing holds the pages of shared memory segments: one memfd per
// segment, sized lazily, pinned by mlock of a server mapping for SHM_LOCK.
package backing

import (
	"math"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/nsmodel"
)

// Memfd is the page store of one segment. An idle segment costs the
// server this much memory: what only huge page and locked segments need
// is made for them alone.
type Memfd struct {
	fd int
	// more is set at creation for a huge page memfd, at the first Lock
	// for any other.
	more atomic.Pointer[memfdMore]
}

type memfdMore struct {
	// huge is the huge page size of an MFD_HUGETLB memfd, 0 otherwise.
	huge int64

	// mu protects the fields below.
	mu sync.Mutex
	// pinned is the server's mlocked mapping of the pages.
	pinned []byte
	// size is the size a huge page memfd was asked for: hugetlbfs sizes
	// its files in whole huge pages, as the kernel's SHM_HUGETLB
	// segments are, while shm_segsz keeps the size asked for. A huge
	// page memfd cannot be written past its end, so nothing but
	// Truncate changes it.
	size int64
}

// extra returns m.more, made if need be.
func (m *Memfd) extra() *memfdMore {
	if x := m.more.Load(); x != nil {
		return x
	}
	m.more.CompareAndSwap(nil, &memfdMore{})
	return m.more.Load()
}

var _ nsmodel.Pages = (*Memfd)(nil)

// New makes an empty memfd; no page is allocated until one is touched.
// hugetlb asks for MFD_HUGETLB, as SHM_HUGETLB does.
func New(name string, hugetlb bool) (nsmodel.Pages, error) {
	flags := unix.MFD_CLOEXEC
	if hugetlb {
		flags |= unix.MFD_HUGETLB
	}
	fd, err := unix.MemfdCreate(name, flags)
	if err != nil {
		return nil, err
	}
	m := &Memfd{fd: fd}
	if hugetlb {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return nil, err
		}
		m.more.Store(&memfdMore{huge: st.Blksize})
	}
	return m, nil
}

// Fd implements nsmodel.Pages.
func (m *Memfd) Fd() int { return m.fd }

// Truncate implements nsmodel.Pages. A huge page memfd is sized up to a
// whole number of huge pages, as newseg sizes a SHM_HUGETLB file.
func (m *Memfd) Truncate(size int64) error {
	x := m.more.Load()
	if x == nil || x.huge == 0 {
		return unix.Ftruncate(m.fd, size)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if size > math.MaxInt64-x.huge+1 {
		return unix.EINVAL
	}
	if err := unix.Ftruncate(m.fd, (size+x.huge-1)/x.huge*x.huge); err != nil {
		return err
	}
	x.size = size
	return nil
}

// Stat implements nsmodel.Pages with a single fstat: shmem and hugetlbfs
// count allocated pages in st_blocks, which is what rss of
// /proc/sysvipc/shm shows.
func (m *Memfd) Stat() (nsmodel.PageUsage, error) {
	var st unix.Stat_t
	if err := unix.Fstat(m.fd, &st); err != nil {
		return nsmodel.PageUsage{}, err
	}
	u := nsmodel.PageUsage{Size: st.Size, Resident: st.Blocks * 512}
	if x := m.more.Load(); x != nil && x.huge != 0 {
		x.mu.Lock()
		u.Size = x.size
		x.mu.Unlock()
	}
	return u, nil
}

// Lock implements nsmodel.Pages: it maps the first size bytes in the
// server and mlocks them, which faults every page in and keeps it there.
// Locking again replaces the old mapping, so a resized segment stays
// wholly pinned; if the new mapping cannot be made, the old one stays.
func (m *Memfd) Lock(size int64) error {
	x := m.extra()
	x.mu.Lock()
	defer x.mu.Unlock()
	var mem []byte
	if size > 0 {
		var err error
		mem, err = unix.Mmap(m.fd, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			return err
		}
		if err := unix.Mlock(mem); err != nil {
			unix.Munmap(mem)
			return err
		}
	}
	x.unpinLocked()
	x.pinned = mem
	return nil
}

// Unlock implements nsmodel.Pages.
func (m *Memfd) Unlock() error {
	x := m.more.Load()
	if x == nil {
		return nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.unpinLocked()
	return nil
}

// unpinLocked drops the pinned mapping. x.mu is held.
func (x *memfdMore) unpinLocked() {
	if x.pinned != nil {
		unix.Munmap(x.pinned)
		x.pinned = nil
	}
}

// Close implements nsmodel.Pages. Processes that still map the pages, or
// a passthrough registration, keep them alive; the memfd's own reference
// is dropped here.
func (m *Memfd) Close() error {
	m.Unlock()
	return unix.Close(m.fd)
}
