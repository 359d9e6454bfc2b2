package nsmodel

import (
	"math"

	"golang.org/x/sys/unix"
)

// SharePages tells the model that whoever attaches a segment reaches its
// pages directly, not through the server (FUSE passthrough hands the
// kernel the memfd, which every open file and mapping then refers to):
// an attached segment's pages may then not be replaced, so they keep
// their size while attached (resize). Without it the server alone
// touches the pages and any resize within the limits is real. Call it
// before the first segment is opened.
func (m *Model) SharePages() { m.shared.Store(true) }

// Shrunk reports whether s keeps pages past its size: it was shrunk
// while attached, and its last detach cuts them (resize). Until then a
// read through a passthrough file finds zeros past the end, so an open
// had better settle the attaches that may have ended first.
func (t *ShmTable) Shrunk(s *Shm) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return s.cap > s.size
}

// Modes of fallocate(2) (linux/falloc.h) that a segment takes: those of
// shmem_fallocate.
const (
	FallocKeepSize  = unix.FALLOC_FL_KEEP_SIZE
	FallocPunchHole = unix.FALLOC_FL_PUNCH_HOLE
	FallocZeroRange = unix.FALLOC_FL_ZERO_RANGE
)

// Extend is the growth that a write past the end of a segment asks for:
// shm_segsz becomes end, within the rules of resize, where a size over
// shmmax is EFBIG (a write past a file's limit) rather than ftruncate's
// EINVAL. A segment already that large is left alone.
func (t *ShmTable) Extend(s *Shm, end uint64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.extend(s, end)
}

// extend is Extend. t.mu is held.
func (t *ShmTable) extend(s *Shm, end uint64) error {
	if s.perm.Deleted {
		return unix.EIDRM
	}
	t.follow(s)
	if end <= s.size {
		return nil
	}
	if end > t.ns.Limits().ShmMax || end > math.MaxInt64 {
		return unix.EFBIG
	}
	if err := t.resize(s, end); err != nil {
		return err
	}
	s.ctime = t.ns.model.Now()
	t.logShm(s)
	return nil
}

// Allocate is fallocate(2) on a segment's file, with the checks of
// vfs_fallocate and the modes of shmem_fallocate, kept within the
// segment's limits: a range that grows the segment (no KEEP_SIZE) grows
// it as a write would (Extend), and the part of a range past the end is
// left out, so no mode allocates a page that shmall does not count. If
// the pages refuse, a growth made for them is undone.
func (t *ShmTable) Allocate(s *Shm, mode uint32, off, n uint64) error {
	if off > math.MaxInt64 || n == 0 || n > math.MaxInt64 {
		return unix.EINVAL
	}
	if mode&^(FallocKeepSize|FallocPunchHole|FallocZeroRange) != 0 {
		return unix.EOPNOTSUPP
	}
	if mode&FallocPunchHole != 0 && (mode&FallocKeepSize == 0 || mode&FallocZeroRange != 0) {
		return unix.EOPNOTSUPP // vfs_fallocate: a hole is punched within the size only
	}
	end := off + n
	if end > math.MaxInt64 {
		return unix.EFBIG
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	oldSize, oldCtime := s.size, s.ctime
	if mode&FallocKeepSize == 0 {
		if err := t.extend(s, end); err != nil {
			return err
		}
	} else if s.perm.Deleted {
		return unix.EIDRM
	}
	end = min(end, s.size)
	if off >= end {
		return nil
	}
	if err := s.pages.Allocate(mode, int64(off), int64(end-off)); err != nil {
		if s.size != oldSize && t.resize(s, oldSize) == nil {
			s.ctime = oldCtime
			t.logShm(s)
		}
		return err
	}
	return nil
}
