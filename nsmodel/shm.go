package nsmodel

import (
	"fmt"
	"math"
	"os"

	"golang.org/x/sys/unix"
)

// PageSize is the unit of shmall and of rss accounting.
var PageSize = uint64(os.Getpagesize())

// pagesOf is the page count of size bytes, rounded up; size must leave
// room for the rounding (newseg refuses a size that does not, ENOSPC).
func pagesOf(size uint64) uint64 { return (size + PageSize - 1) / PageSize }

// Shm is struct shmid_kernel: one shared memory segment.
//
// It is reached through its table's methods, which take the table's mu,
// and through Serial and Fd below; the fields are protected by the
// table's mu.
type Shm struct {
	ipcObject
	table *ShmTable

	// The fields below are protected by table.mu.
	size uint64
	// cap is the size of the pages, which shmall counts: shm_segsz, or
	// more while a segment shrunk under attaches keeps its pages' size
	// until its last detach (resize). cap >= size.
	cap uint64
	// sealed is set once the segment has a size: its pages then refuse
	// to grow by any path but the server's (resize).
	sealed  bool
	cpid    int32
	lpid    int32
	nattch  uint64
	atime   int64
	dtime   int64
	ctime   int64
	hugetlb bool
	// lockUID is whose RLIMIT_MEMLOCK the pinned pages count against,
	// and lockedPgs how many pages it was charged.
	lockUID   uint32
	lockedPgs uint64
	pages     Pages
	// creator is the task that made the segment while it lives, nil
	// once it has exited (rmid_forced.go).
	creator *creatorTask
}

var _ Object = (*Shm)(nil)

// Fd is the segment's page store, valid while the caller holds an
// attach (no lock: the descriptor number of the pages never changes
// while the segment lives, even when Regrow replaces them).
func (s *Shm) Fd() int { return s.pages.Fd() }

// ShmStat is a snapshot of a segment, as shmctl(IPC_STAT) gives it.
type ShmStat struct {
	ObjectStat
	Size     uint64
	CPID     int32
	LPID     int32
	Nattch   uint64
	Atime    int64
	Dtime    int64
	Ctime    int64
	Resident int64
}

// ShmTable is the shm id table of a namespace: shm_ids with shm_ops.
type ShmTable struct {
	ids[*Shm, ShmGet, ShmStat]
	// tot is shm_tot, the pages of all segments (sizes rounded up to
	// pages); protected by mu.
	tot uint64
	// forced is shm_rmid_forced (rmid_forced.go); protected by mu.
	forced bool
}

func newShmTable(ns *Namespace) *ShmTable {
	t := &ShmTable{}
	t.setup(ns, ipcOps[*Shm, ShmGet, ShmStat]{getnew: t.newSeg, moreChecks: shmMoreChecks,
		rmid: t.doShmRmid, update: t.shmSet, stat: t.stat})
	return t
}

// ShmGet is the request of a shmget, or of the open of a segment's file.
type ShmGet struct {
	Key    int32
	Size   uint64
	Mode   uint32 // the low nine bits of shmflg
	Create bool   // IPC_CREAT
	Excl   bool   // IPC_EXCL
	// HugeTLB asks for huge pages (SHM_HUGETLB).
	HugeTLB bool
	// Access is what Open checks an existing segment for (AccessRead,
	// AccessWrite), taken from the open's access mode. Get ignores it:
	// shmget checks the bits of Mode, its shmflg.
	Access uint32
	// AllowEmpty lets a segment be made with size 0, to be sized later by
	// ftruncate, as a file is.
	AllowEmpty bool
}

func (req ShmGet) params() ipcParams {
	return ipcParams{key: req.Key, create: req.Create, excl: req.Excl, flg: req.Mode & ModePerm, access: req.Access}
}

// Open is what open(2) of a segment's name does: shmget with the
// request (ids.Open), then an attach. A segment the call creates is
// attached without an access check. Both happen under one lock, so no
// IPC_RMID slips between them.
func (t *ShmTable) Open(c *Cred, req ShmGet) (*Shm, error) {
	t.reapExits()
	t.mu.Lock()
	defer t.mu.Unlock()
	s, err := t.ipcget(c, req, req.Access)
	if err == nil {
		t.attach(c, s)
	}
	return s, err
}

// shmMoreChecks is shm_more_checks: an existing segment smaller than the
// size asked for is EINVAL.
func shmMoreChecks(s *Shm, req ShmGet) error {
	if s.size < req.Size {
		return unix.EINVAL
	}
	return nil
}

// newSeg is newseg, its checks in its order: the size against SHMMIN
// and shmmax (EINVAL), then shm_tot + the new pages against shmall
// (ENOSPC), then what a shmem file can hold (EINVAL), then shmmni
// (ENOSPC, in ipc_addid). t.mu is held.
func (t *ShmTable) newSeg(c *Cred, req ShmGet) (*Shm, error) {
	if err := t.alive(); err != nil {
		return nil, err
	}
	lim := t.ns.Limits()
	if (req.Size < 1 && !req.AllowEmpty) || req.Size > lim.ShmMax {
		return nil, unix.EINVAL
	}
	if req.Size > math.MaxUint64-PageSize+1 {
		return nil, unix.ENOSPC // the page count overflows
	}
	n := pagesOf(req.Size)
	if t.tot+n < t.tot || t.tot+n > lim.ShmAll {
		return nil, unix.ENOSPC
	}
	if req.Size > math.MaxInt64 {
		return nil, unix.EINVAL // shmem_kernel_file_setup: past MAX_LFS_FILESIZE
	}
	if t.inUse >= min(lim.ShmMni, IPCMNI) {
		return nil, unix.ENOSPC
	}
	pages, err := t.ns.model.NewPages(fmt.Sprintf("shmfs:%s:%08x", t.ns.Name, uint32(req.Key)), req.HugeTLB)
	if err == unix.EMFILE || err == unix.ENFILE {
		// Each segment holds a descriptor of the server: out of
		// descriptors, no more segments fit, which shmget says with
		// ENOSPC (as when shmmni is reached).
		return nil, unix.ENOSPC
	}
	if err != nil {
		return nil, err
	}
	if req.Size > 0 {
		err := pages.Truncate(int64(req.Size))
		if err == nil {
			err = pages.Seal()
		}
		if err != nil {
			pages.Close()
			return nil, err
		}
	}
	s := &Shm{
		ipcObject: newObject(req.Key, req.Mode, c),
		table:     t,
		size:      req.Size,
		cap:       req.Size,
		sealed:    req.Size > 0,
		cpid:      c.PID,
		ctime:     t.ns.model.Now(),
		hugetlb:   req.HugeTLB,
		pages:     pages,
	}
	if err := t.add(s, lim.ShmMni); err != nil {
		pages.Close()
		return nil, err
	}
	t.tot += n
	exits.watch(s, c.PID)
	t.logShm(s)
	return s, nil
}

// Attach is shmat as an open sees it: access is checked as ipcperms does,
// then nattch, shm_atim and shm_lpid move. A segment marked SHM_DEST may
// still be attached, as Linux lets shmat do.
func (t *ShmTable) Attach(c *Cred, s *Shm, access uint32) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s.perm.Deleted {
		return unix.EIDRM
	}
	if err := s.perm.Check(c, access); err != nil {
		return err
	}
	t.attach(c, s)
	return nil
}

// attach is shm_open. A segment not yet sealed may have been grown by a
// passthrough write (follow): the attach takes that in first, so the new
// handle finds the segment sized and sealed. t.mu is held.
func (t *ShmTable) attach(c *Cred, s *Shm) {
	if !s.sealed && !s.perm.Deleted {
		t.follow(s)
	}
	s.nattch++
	s.atime = t.ns.model.Now()
	s.lpid = c.PID
	t.logShm(s)
}

// Detach is shmdt: the last detach of a segment marked SHM_DEST, or of
// any segment while shm_rmid_forced is set, destroys it.
func (t *ShmTable) Detach(s *Shm, pid int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s.nattch == 0 {
		return
	}
	s.nattch--
	s.dtime = t.ns.model.Now()
	if pid > 0 {
		s.lpid = pid
	}
	if t.mayDestroy(s) {
		t.destroyUnnamed(s)
		return
	}
	if s.nattch == 0 && s.cap > s.size && s.pages.Truncate(int64(s.size)) == nil {
		// The last user of pages kept through a shrink is gone: they
		// shrink too, and shmall gets them back.
		t.tot -= pagesOf(s.cap) - pagesOf(s.size)
		s.cap = s.size
	}
	t.logShm(s)
}

// destroy is shm_destroy: the id goes, shm_tot gives the pages back, the
// pin and its charge go, and the memfd is closed. t.mu is held.
func (t *ShmTable) destroy(s *Shm) {
	exits.forget(s)
	t.remove(s)
	t.ns.logGone(kindShm, &t.Registry, s.perm.ID)
	t.tot -= pagesOf(s.cap)
	if s.lockedPgs > 0 {
		t.ns.model.unpin(s.lockUID, s.lockedPgs)
		s.lockedPgs = 0
	}
	s.pages.Close()
}

// doShmRmid is do_shm_rmid: an unattached segment is destroyed at once;
// an attached one is marked SHM_DEST, loses its key, and goes with its
// last detach. t.mu is held.
func (t *ShmTable) doShmRmid(s *Shm) {
	if s.nattch == 0 {
		t.destroy(s)
		return
	}
	s.perm.Mode |= ShmDest
	t.forgetKey(s)
	t.logShm(s)
}

// shmSet is the segment's part of IPC_SET: uid, gid and the permission
// bits, and shm_ctim. t.mu is held.
func (t *ShmTable) shmSet(c *Cred, s *Shm, a SetAttr) error {
	if a.QBytes != nil {
		return unix.EINVAL
	}
	if err := s.perm.apply(a); err != nil {
		return err
	}
	s.ctime = t.ns.model.Now()
	t.logShm(s)
	return nil
}

// Truncate sets shm_segsz as ftruncate does on a file: over shmmax is
// EINVAL, growth past shmall pages in the namespace ENOSPC, growth of an
// attached segment past its pages EPERM (resize). checkAccess asks for
// the write permission check that a truncate by path needs; an open
// handle was checked when it was opened. A failed truncate changes
// nothing.
func (t *ShmTable) Truncate(c *Cred, s *Shm, size uint64, checkAccess bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s.perm.Deleted {
		return unix.EIDRM
	}
	if checkAccess {
		if err := s.perm.Check(c, AccessWrite); err != nil {
			return err
		}
	}
	t.follow(s)
	if size == s.size {
		return nil
	}
	if err := t.resize(s, size); err != nil {
		return err
	}
	s.ctime = t.ns.model.Now()
	t.logShm(s)
	return nil
}

// resize gives s the size shm_segsz = size, within shmmax (EINVAL) and
// shmall (ENOSPC), or changes nothing. This is where the rule of sealed
// pages lives (docs/shm.md, "Size"):
//
//   - pages not yet sealed (a segment made empty by open(O_CREAT)) are
//     sized and sealed: the first size a segment gets;
//   - sealed pages that no process holds are cut, or replaced by larger
//     ones holding the same bytes (Pages.Regrow);
//   - sealed pages that an attach holds, where attaches reach the pages
//     themselves (Model.SharePages: an open file or a mapping under
//     passthrough), keep their size: a shrink zeroes and frees the tail,
//     a growth within it zeroes what it brings back, a growth past it is
//     EPERM, as the kernel's own write past the end of those pages is.
//     shmall counts the pages' size until the last detach cuts them.
//
// t.mu is held.
func (t *ShmTable) resize(s *Shm, size uint64) error {
	lim := t.ns.Limits()
	if size > lim.ShmMax || size > math.MaxInt64 {
		return unix.EINVAL
	}
	held := s.sealed && s.nattch > 0 && t.ns.model.shared.Load()
	newCap := size
	if held {
		newCap = max(s.cap, size)
	}
	oldPgs, newPgs := pagesOf(s.cap), pagesOf(newCap)
	if tot := t.tot - oldPgs + newPgs; newPgs > oldPgs && (tot < t.tot || tot > lim.ShmAll) {
		return unix.ENOSPC
	}
	if held && size > s.cap {
		return unix.EPERM
	}
	var err error
	switch {
	case held:
		err = s.pages.Punch(int64(min(s.size, size)), int64(s.cap-min(s.size, size)))
	case !s.sealed:
		if err = s.pages.Truncate(int64(size)); err == nil && size > 0 {
			if err = s.pages.Seal(); err != nil {
				s.pages.Truncate(int64(s.size))
			}
		}
	case size <= s.cap:
		err = s.pages.Truncate(int64(size))
	default:
		err = s.pages.Regrow(int64(size))
	}
	if err != nil {
		return err
	}
	if err := t.resized(s, size, newCap); err != nil {
		if !held {
			s.pages.Truncate(int64(s.size))
		}
		return err
	}
	s.sealed = s.sealed || size > 0
	return nil
}

// resized takes in a new size of s and of its pages: shm_tot follows,
// and a locked segment stays wholly pinned, its pages charged to whoever
// locked it. If the pin cannot follow, nothing changes and the error is
// returned. t.mu is held.
func (t *ShmTable) resized(s *Shm, size, cap uint64) error {
	if s.perm.Mode&ShmLocked != 0 {
		if err := s.pages.Lock(int64(size)); err != nil {
			return err
		}
		m := t.ns.model
		m.unpin(s.lockUID, s.lockedPgs)
		s.lockedPgs = pagesOf(size)
		m.pin(s.lockUID, s.lockedPgs)
	}
	t.tot = t.tot - pagesOf(s.cap) + pagesOf(cap)
	s.size, s.cap = size, cap
	return nil
}

// Lock is SHM_LOCK and SHM_UNLOCK, with the rules of shmctl_do_lock and
// user_shm_lock: without CAP_IPC_LOCK only the owner or creator may
// (EPERM), and to lock needs a non-zero RLIMIT_MEMLOCK (EPERM) that the
// caller's pinned pages, these included, must fit in (ENOMEM). Pages
// locked with CAP_IPC_LOCK are charged too, just not refused. Locking a
// locked segment, unlocking an unlocked one, and either on a huge page
// segment change nothing.
func (t *ShmTable) Lock(c *Cred, s *Shm, lock bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s.perm.Deleted {
		return unix.EIDRM
	}
	privileged := c.Capable(CapIPCLock)
	var limit uint64
	if !privileged {
		if c.UID != s.perm.UID && c.UID != s.perm.CUID {
			return unix.EPERM
		}
		if lock {
			limit = c.MemlockLimit()
			if limit == 0 {
				return unix.EPERM
			}
		}
	}
	if s.hugetlb {
		return nil
	}
	m := t.ns.model
	if !lock {
		if s.perm.Mode&ShmLocked == 0 {
			return nil
		}
		if err := s.pages.Unlock(); err != nil {
			return err
		}
		m.unpin(s.lockUID, s.lockedPgs)
		s.lockedPgs = 0
		s.perm.Mode &^= ShmLocked
		t.logShm(s)
		return nil
	}
	if s.perm.Mode&ShmLocked != 0 {
		return nil
	}
	t.follow(s)
	n := pagesOf(s.size)
	if !privileged && limit != unix.RLIM_INFINITY && m.pinned(c.UID)+n > limit/PageSize {
		return unix.ENOMEM
	}
	if err := s.pages.Lock(int64(s.size)); err != nil {
		return err
	}
	m.pin(c.UID, n)
	s.lockUID, s.lockedPgs = c.UID, n
	s.perm.Mode |= ShmLocked
	t.logShm(s)
	return nil
}

// follow takes in a size that the pages reached without the server and
// returns their usage. Sealed pages cannot grow; pages not yet sealed (a
// segment made empty by open(O_CREAT), before its first size) can, by a
// passthrough write past the end, which the server cannot refuse. Such a
// growth within shmmax and shmall is taken as the segment's first size
// and sealed; one past them is cut back to the size the model knows,
// its pages freed. t.mu is held.
func (t *ShmTable) follow(s *Shm) PageUsage {
	u, err := s.pages.Stat()
	if err != nil {
		return PageUsage{Size: int64(s.cap)}
	}
	if size := uint64(u.Size); !s.sealed && size != s.size {
		if t.resize(s, size) != nil {
			s.pages.Truncate(int64(s.size))
			if u2, err := s.pages.Stat(); err == nil {
				u = u2
			}
		}
	}
	if s.cap > s.size {
		// Pages kept through a shrink (resize) can be written past
		// shm_segsz, as a file is written past its end: the size
		// follows the last byte written there, within pages shmall
		// already counts. (The tail was zeroed, so the last byte that
		// is not zero is where such writes ended.)
		if end, err := s.pages.DataEnd(int64(s.size), int64(s.cap)); err == nil && uint64(end) > s.size {
			s.size = uint64(end)
		}
	}
	return u
}

// stat snapshots s; a destroyed segment has no pages to look at. t.mu
// is held.
func (t *ShmTable) stat(s *Shm) ShmStat {
	var resident int64
	if !s.perm.Deleted {
		resident = t.follow(s).Resident
	}
	return ShmStat{
		ObjectStat: s.snapshot(), Size: s.size, CPID: s.cpid, LPID: s.lpid,
		Nattch: s.nattch, Atime: s.atime, Dtime: s.dtime, Ctime: s.ctime,
		Resident: resident,
	}
}
