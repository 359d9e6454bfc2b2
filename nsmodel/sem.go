package nsmodel

import (
	"fmt"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// SemVMX is the largest value a semaphore may hold (SEMVMX), and SemAEM
// the largest adjustment SEM_UNDO may record (SEMAEM).
const (
	SemVMX = 32767
	SemAEM = SemVMX
)

// semaphore is struct sem: one semaphore of a set.
type semaphore struct {
	val int32
	pid int32 // sempid: who changed val last
}

// Sem is struct sem_array: one semaphore set.
//
// Its Perm is written with both table.mu and mu held, so that either lock
// is enough to read it: table-wide operations hold table.mu, and the hot
// path of semop holds only mu.
type Sem struct {
	Perm
	serial uint64
	table  *SemTable

	// mu protects every field below, and the state of the waiters and
	// SemUndo records linked to the set.
	mu    sync.Mutex
	sems  []semaphore
	otime int64
	ctime int64
	// fresh is set on a set made by open(O_CREAT), which cannot say how
	// many semaphores it wants: until the set is first used, a SETALL
	// gives it its size.
	fresh bool
	// pendingConst holds waiters whose operations only wait for zero,
	// pendingAlter those that change values, each in arrival order.
	pendingConst waitQueue
	pendingAlter waitQueue
	// undos lists the SemUndo records of the set (list_id).
	undos *SemUndo
}

var _ Object = (*Sem)(nil)

// IPCPerm implements Object.
func (s *Sem) IPCPerm() *Perm { return &s.Perm }

// Serial implements Object.
func (s *Sem) Serial() uint64 { return s.serial }

// SemStat is a snapshot of a set, as semctl(IPC_STAT) gives it.
type SemStat struct {
	Perm
	Serial uint64
	Nsems  int
	Otime  int64
	Ctime  int64
	Name   string
}

// SemTable is the semaphore set id table of a namespace.
type SemTable struct {
	Registry
	ns *Namespace
	// used is used_sems, the semaphores in all sets; protected by mu.
	used int
}

func newSemTable(ns *Namespace) *SemTable {
	t := &SemTable{ns: ns}
	t.init()
	return t
}

// SemGet is the request of a semget.
type SemGet struct {
	Key    int32
	Nsems  int
	Mode   uint32 // permission bits of a new set
	Create bool   // IPC_CREAT
	Excl   bool   // IPC_EXCL
	// Access is what an existing set is checked for (AccessRead,
	// AccessWrite, or none); semget takes it from the low bits of semflg.
	Access uint32
	// Fresh marks a new set as sized by its first SETALL (open(O_CREAT)).
	Fresh bool
}

// Get is semget: it finds or makes the set of req.Key.
func (t *SemTable) Get(c *Cred, req SemGet) (*Sem, error) {
	lim := t.ns.Limits()
	if req.Nsems < 0 || req.Nsems > lim.SemMsl {
		return nil, unix.EINVAL
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if req.Key != IPCPrivate {
		if o := t.findKey(req.Key); o != nil {
			s := o.(*Sem)
			if req.Create && req.Excl {
				return nil, unix.EEXIST
			}
			// sem_more_checks comes before ipcperms, as in ipcget_public.
			s.mu.Lock()
			n := len(s.sems)
			s.mu.Unlock()
			if req.Nsems > n {
				return nil, unix.EINVAL
			}
			if err := s.Check(c, req.Access); err != nil {
				return nil, err
			}
			return s, nil
		}
		if !req.Create {
			return nil, unix.ENOENT
		}
	}
	return t.newAry(c, req, lim)
}

// newAry is newary. t.mu is held.
func (t *SemTable) newAry(c *Cred, req SemGet, lim Limits) (*Sem, error) {
	if req.Nsems == 0 {
		return nil, unix.EINVAL
	}
	if t.used+req.Nsems > lim.SemMns {
		return nil, unix.ENOSPC
	}
	s := &Sem{
		Perm:   newPerm(req.Key, req.Mode, c),
		serial: nextSerial(),
		table:  t,
		sems:   make([]semaphore, req.Nsems),
		ctime:  t.ns.model.Now(),
		fresh:  req.Fresh,
	}
	if err := t.add(s, lim.SemMni); err != nil {
		return nil, err
	}
	t.used += req.Nsems
	s.logSem(true)
	return s, nil
}

// Access checks what an open of the set's file asks for, as ipcperms:
// EIDRM once the set is removed.
func (s *Sem) Access(c *Cred, access uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Deleted {
		return unix.EIDRM
	}
	return s.Check(c, access)
}

// Lookup finds a set by key or id.
func (t *SemTable) Lookup(ref Ref) (*Sem, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	o, err := t.find(ref)
	if err != nil {
		return nil, err
	}
	return o.(*Sem), nil
}

// Remove is IPC_RMID: the set goes at once, and every waiter fails with
// EIDRM.
func (t *SemTable) Remove(c *Cred, s *Sem) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkDown(c); err != nil {
		return err
	}
	s.freeAry()
	t.remove(s)
	t.ns.logGone(kindSem, &t.Registry, s.ID)
	t.used -= len(s.sems)
	return nil
}

// Set is IPC_SET: owner, creator or CAP_SYS_ADMIN may change uid, gid and
// the permission bits.
func (t *SemTable) Set(c *Cred, s *Sem, a SetAttr) error {
	if a.QBytes != nil {
		return unix.EINVAL
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.setAttr(c, a); err != nil {
		return err
	}
	s.ctime = t.ns.model.Now()
	s.logSem(true)
	return nil
}

// Stat is IPC_STAT, without the permission check: the file system shows
// it to whoever may see the name.
func (s *Sem) Stat() SemStat {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stat()
}

// stat reads the set. s.mu is held.
func (s *Sem) stat() SemStat {
	return SemStat{Perm: s.Perm, Serial: s.serial, Nsems: len(s.sems), Otime: s.otime, Ctime: s.ctime, Name: EntryName(&s.Perm)}
}

// List returns the sets in the table, in id order.
func (t *SemTable) List() []*Sem {
	return collect(&t.Registry, func(s *Sem) *Sem { return s })
}

// Stats returns a snapshot of every set in the table, in id order.
func (t *SemTable) Stats() []SemStat {
	return collect(&t.Registry, (*Sem).Stat)
}

// Used is used_sems: the semaphores in all sets of the table.
func (t *SemTable) Used() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.used
}

// SysvipcSem renders the table as /proc/sysvipc/sem does
// (sysvipc_sem_proc_show).
func (t *SemTable) SysvipcSem() string {
	var b strings.Builder
	b.WriteString(semHeader)
	for _, s := range t.Stats() {
		fmt.Fprintf(&b, "%10d %10d  %4o %10d %5d %5d %5d %5d %10d %10d\n",
			s.Key, s.ID, s.Mode, s.Nsems, s.UID, s.GID, s.CUID, s.CGID, s.Otime, s.Ctime)
	}
	return b.String()
}
