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
//
// It is reached through its table's methods (which take the table's mu,
// then its mu) and through Serial, Op, Query, GetAll, SetVal and SetAll
// (which take its mu).
type Sem struct {
	ipcObject
	table *SemTable

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
	// watches are the pollers waiting on the set (sem_poll.go).
	watches semWatches
}

var _ Object = (*Sem)(nil)

// SemStat is a snapshot of a set, as semctl(IPC_STAT) gives it.
type SemStat struct {
	ObjectStat
	Nsems int
	Otime int64
	Ctime int64
}

// SemTable is the semaphore set id table of a namespace: sem_ids with
// sem_ops.
type SemTable struct {
	ids[*Sem, SemGet, SemStat]
	// used is used_sems, the semaphores in all sets; protected by mu.
	used int
}

func newSemTable(ns *Namespace) *SemTable {
	t := &SemTable{}
	t.setup(ns, ipcOps[*Sem, SemGet, SemStat]{args: t.semgetArgs, getnew: t.newAry,
		moreChecks: semMoreChecks, rmid: t.freeAry, update: t.semctlDown, stat: semStat})
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

func (req SemGet) params() ipcParams {
	return ipcParams{key: req.Key, create: req.Create, excl: req.Excl, flg: req.Access, access: req.Access}
}

// semgetArgs is the check of ksys_semget before ipcget: nsems within
// semmsl (EINVAL).
func (t *SemTable) semgetArgs(req SemGet) error {
	if req.Nsems < 0 || req.Nsems > t.ns.Limits().SemMsl {
		return unix.EINVAL
	}
	return nil
}

// semMoreChecks is sem_more_checks: an existing set with fewer
// semaphores than asked for is EINVAL. t.mu is held.
func semMoreChecks(s *Sem, req SemGet) error {
	s.mu.Lock()
	n := len(s.sems)
	s.mu.Unlock()
	if req.Nsems > n {
		return unix.EINVAL
	}
	return nil
}

// newAry is newary. t.mu is held.
func (t *SemTable) newAry(c *Cred, req SemGet) (*Sem, error) {
	lim := t.ns.Limits()
	if req.Nsems == 0 {
		return nil, unix.EINVAL
	}
	if t.used+req.Nsems > lim.SemMns {
		return nil, unix.ENOSPC
	}
	s := &Sem{
		ipcObject: newObject(req.Key, req.Mode, c),
		table:     t,
		sems:      make([]semaphore, req.Nsems),
		ctime:     t.ns.model.Now(),
		fresh:     req.Fresh,
	}
	if err := t.add(s, lim.SemMni); err != nil {
		return nil, err
	}
	t.used += req.Nsems
	s.logSem(true)
	return s, nil
}

// freeAry is freeary: the set goes at once, every waiter fails with
// EIDRM and the undo records are dropped. t.mu is held.
func (t *SemTable) freeAry(s *Sem) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expungeWaiters(unix.EIDRM)
	for s.undos != nil {
		s.unlinkUndo(s.undos)
	}
	for i := range s.sems {
		s.sems[i].pid = 0
	}
	s.pollGone()
	t.remove(s)
	t.ns.logGone(kindSem, &t.Registry, s.perm.ID)
	t.used -= len(s.sems)
}

// semctlDown is the set's part of IPC_SET: uid, gid and the permission
// bits, and sem_ctime. The set's Perm is written under its mu too (see
// Sem). t.mu is held.
func (t *SemTable) semctlDown(c *Cred, s *Sem, a SetAttr) error {
	if a.QBytes != nil {
		return unix.EINVAL
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.perm.apply(a); err != nil {
		return err
	}
	s.ctime = t.ns.model.Now()
	s.logSem(true)
	return nil
}

// semStat snapshots the set for IPC_STAT (the ops' stat): t.mu is held,
// and the set's mu is taken here.
func semStat(s *Sem) SemStat {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stat()
}

// stat reads the set. s.mu is held.
func (s *Sem) stat() SemStat {
	return SemStat{ObjectStat: s.snapshot(), Nsems: len(s.sems), Otime: s.otime, Ctime: s.ctime}
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
