// Package backing holds the pages of shared memory segments: one memfd per
// segment, sized lazily, sealed against growth once sized, pinned by mlock
// of a server mapping for SHM_LOCK.
//
// Why seals: under FUSE passthrough the kernel writes to the memfd itself,
// so a write past the end would grow a segment without asking the server.
// F_SEAL_GROW makes the memfd refuse that (EPERM), whoever writes. A seal
// cannot be taken back, so a sealed store that must grow is replaced by a
// new memfd under the same descriptor number (Regrow), which the model
// does only when no process holds the old one.
package backing

import (
	"math"
	"os"
	"strconv"
	"strings"
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
	flags := unix.MFD_CLOEXEC | unix.MFD_ALLOW_SEALING
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

// Seal implements nsmodel.Pages: F_SEAL_GROW, so that nothing, the
// kernel's passthrough writes included, makes the memfd larger. It does
// not seal shrinking: the server shrinks a store when its last user goes.
func (m *Memfd) Seal() error {
	if x := m.more.Load(); x != nil && x.huge != 0 {
		// hugetlbfs has no write(2) and a mapping cannot fault past
		// the end: nothing but the server can grow it, and Regrow
		// can then simply truncate.
		return nil
	}
	_, err := unix.FcntlInt(uintptr(m.fd), unix.F_ADD_SEALS, unix.F_SEAL_GROW)
	return err
}

// Punch implements nsmodel.Pages: the bytes of [off, off+n) read as
// zeros and their pages are freed; the size stays.
func (m *Memfd) Punch(off, n int64) error {
	if n <= 0 {
		return nil
	}
	return unix.Fallocate(m.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
}

// Allocate implements nsmodel.Pages with fallocate(2) on the memfd.
// shmem has no FALLOC_FL_ZERO_RANGE: the range is punched, then
// allocated again, which leaves it zeroed and allocated as the mode asks.
func (m *Memfd) Allocate(mode uint32, off, n int64) error {
	if mode&unix.FALLOC_FL_ZERO_RANGE != 0 {
		if err := m.Punch(off, n); err != nil {
			return err
		}
		mode = mode&^unix.FALLOC_FL_ZERO_RANGE | unix.FALLOC_FL_KEEP_SIZE
	}
	return unix.Fallocate(m.fd, mode, off, n)
}

// Regrow implements nsmodel.Pages: a sealed memfd cannot grow, so a new
// one of the new size takes its place under the same descriptor number
// (dup3 closes the old one), holding the old bytes that fit; it is
// sealed in turn. Only the allocated ranges of the old store are copied
// (SEEK_DATA/SEEK_HOLE), so a sparse segment stays sparse. A pin does not
// follow: the caller locks the new pages again. On error the old store
// is left as it was.
func (m *Memfd) Regrow(size int64) error {
	x := m.more.Load()
	if x != nil && x.huge != 0 {
		return m.Truncate(size) // never sealed (Seal)
	}
	nfd, err := unix.MemfdCreate(m.name(), unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return err
	}
	n := &Memfd{fd: nfd}
	if err := n.Truncate(size); err != nil {
		unix.Close(nfd)
		return err
	}
	if err := copyData(nfd, m.fd, size); err != nil {
		unix.Close(nfd)
		return err
	}
	if err := n.Seal(); err != nil {
		unix.Close(nfd)
		return err
	}
	if err := unix.Dup3(nfd, m.fd, unix.O_CLOEXEC); err != nil {
		unix.Close(nfd)
		return err
	}
	unix.Close(nfd)
	if x != nil {
		x.mu.Lock()
		x.unpinLocked()
		x.mu.Unlock()
	}
	return nil
}

// name is the name the memfd was made with, read back from /proc rather
// than kept in every Memfd.
func (m *Memfd) name() string {
	l, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(m.fd))
	if err != nil {
		return "shmfs"
	}
	l = strings.TrimPrefix(l, "/memfd:")
	return strings.TrimSuffix(l, " (deleted)")
}

// DataEnd implements nsmodel.Pages: it finds the last allocated range
// below limit (SEEK_DATA/SEEK_HOLE) and, within its last page, the last
// byte that is not zero.
func (m *Memfd) DataEnd(from, limit int64) (int64, error) {
	end := from
	for off := from; off < limit; {
		data, err := unix.Seek(m.fd, off, unix.SEEK_DATA)
		if err == unix.ENXIO || (err == nil && data >= limit) {
			break
		}
		if err != nil {
			return from, err
		}
		hole, err := unix.Seek(m.fd, data, unix.SEEK_HOLE)
		if err != nil {
			return from, err
		}
		hole = min(hole, limit)
		// The range [data, hole) is allocated; its end, less the
		// zeros that close it, is the data's end so far.
		buf := make([]byte, 4096)
		for e := hole; e > data; {
			lo := max(data, e-int64(len(buf)))
			k, err := unix.Pread(m.fd, buf[:e-lo], lo)
			if err != nil {
				return from, err
			}
			i := k - 1
			for i >= 0 && buf[i] == 0 {
				i--
			}
			if i >= 0 {
				end = max(end, lo+int64(i)+1)
				break
			}
			e = lo
		}
		off = hole
	}
	return end, nil
}

// copyData copies the allocated ranges of src below limit to the same
// offsets of dst.
func copyData(dst, src int, limit int64) error {
	var off int64
	for off < limit {
		data, err := unix.Seek(src, off, unix.SEEK_DATA)
		if err == unix.ENXIO || (err == nil && data >= limit) {
			return nil
		}
		if err != nil {
			return err
		}
		hole, err := unix.Seek(src, data, unix.SEEK_HOLE)
		if err != nil {
			return err
		}
		hole = min(hole, limit)
		for o := data; o < hole; {
			in, out := o, o
			k, err := unix.CopyFileRange(src, &in, dst, &out, int(hole-o), 0)
			if err != nil {
				return err
			}
			if k == 0 {
				break
			}
			o += int64(k)
		}
		off = hole
	}
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
