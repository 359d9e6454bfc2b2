// Package backing holds the pages of shared memory segments: one memfd per
// segment, sized lazily, pinned by mlock of a server mapping for SHM_LOCK.
package backing

import (
	"sync"

	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/nsmodel"
)

// Memfd is the page store of one segment.
type Memfd struct {
	fd int

	// mu protects pinned, the server's mlocked mapping of the pages.
	mu     sync.Mutex
	pinned []byte
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
	return &Memfd{fd: fd}, nil
}

// Fd implements nsmodel.Pages.
func (m *Memfd) Fd() int { return m.fd }

// Truncate implements nsmodel.Pages.
func (m *Memfd) Truncate(size int64) error { return unix.Ftruncate(m.fd, size) }

// Size implements nsmodel.Pages.
func (m *Memfd) Size() int64 {
	var st unix.Stat_t
	if unix.Fstat(m.fd, &st) != nil {
		return 0
	}
	return st.Size
}

// Resident implements nsmodel.Pages: shmem counts allocated pages in
// st_blocks, which is what rss of /proc/sysvipc/shm shows.
func (m *Memfd) Resident() int64 {
	var st unix.Stat_t
	if unix.Fstat(m.fd, &st) != nil {
		return 0
	}
	return st.Blocks * 512
}

// Lock implements nsmodel.Pages: it maps the first size bytes in the
// server and mlocks them, which faults every page in and keeps it there.
// Locking again replaces the old mapping, so a resized segment stays
// wholly pinned.
func (m *Memfd) Lock(size int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
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
	m.unpinLocked()
	m.pinned = mem
	return nil
}

// Unlock implements nsmodel.Pages.
func (m *Memfd) Unlock() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.unpinLocked()
	return nil
}

func (m *Memfd) unpinLocked() {
	if m.pinned != nil {
		unix.Munmap(m.pinned)
		m.pinned = nil
	}
}

// Close implements nsmodel.Pages. Processes that still map the pages, or
// a passthrough registration, keep them alive; the memfd's own reference
// is dropped here.
func (m *Memfd) Close() error {
	m.Unlock()
	return unix.Close(m.fd)
}
