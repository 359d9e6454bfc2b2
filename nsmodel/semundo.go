package nsmodel

// SemUndo is struct sem_undo: the adjustments that SEM_UNDO operations
// recorded for one holder on one set, applied when the holder goes away
// (exit_sem). The kernel keeps one per process; shmfs keeps one per open
// handle of a set, the nearest thing to a process a file system sees. The
// zero value is ready to use; once linked to a set, the set's mu protects
// it.
type SemUndo struct {
	set        *Sem
	adj        []int32 // semadj, one per semaphore
	prev, next *SemUndo
}

// linkUndo gives u its adjustments for s, at its first SEM_UNDO
// operation. s.mu is held.
func (s *Sem) linkUndo(u *SemUndo) {
	if u.set == s && u.adj != nil {
		return
	}
	u.set = s
	u.adj = make([]int32, len(s.sems))
	u.prev, u.next = nil, s.undos
	if s.undos != nil {
		s.undos.prev = u
	}
	s.undos = u
}

// unlinkUndo drops u from the set's list; its adjustments are forgotten.
// s.mu is held.
func (s *Sem) unlinkUndo(u *SemUndo) {
	if u.prev != nil {
		u.prev.next = u.next
	} else {
		s.undos = u.next
	}
	if u.next != nil {
		u.next.prev = u.prev
	}
	u.set, u.prev, u.next, u.adj = nil, nil, nil, nil
}

// clearUndo zeroes the adjustments of semaphore num in every record, or
// of all semaphores when num is -1, as SETVAL and SETALL do. s.mu is held.
func (s *Sem) clearUndo(num int) {
	for u := s.undos; u != nil; u = u.next {
		if num >= 0 {
			u.adj[num] = 0
		} else {
			clear(u.adj)
		}
	}
}

// Exit is exit_sem for one holder: the adjustments u recorded are added
// to the values, each clamped to [0, SEMVMX], pid becomes their sempid,
// and waiters are retried. A set removed in the meantime has nothing to
// undo.
func (s *Sem) Exit(u *SemUndo, pid int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.set != s {
		return
	}
	for i, a := range u.adj {
		if a == 0 {
			continue
		}
		v := min(max(s.sems[i].val+a, 0), SemVMX)
		s.sems[i].val = v
		s.sems[i].pid = pid
	}
	s.unlinkUndo(u)
	s.update()
	s.otime = s.table.ns.model.Now()
	s.logSem(false)
}
