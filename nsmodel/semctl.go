package nsmodel

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// SemQuery is a semctl command that reads one semaphore.
type SemQuery int

// The single-semaphore queries of semctl.
const (
	GetVal  SemQuery = iota // GETVAL: the value
	GetPID                  // GETPID: who changed it last
	GetNcnt                 // GETNCNT: waiters for it to grow
	GetZcnt                 // GETZCNT: waiters for it to be zero
)

// Query is semctl GETVAL, GETPID, GETNCNT or GETZCNT of semaphore num,
// with the read permission check.
func (s *Sem) Query(c *Cred, q SemQuery, num int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.perm.Check(c, AccessRead); err != nil {
		return 0, err
	}
	if num < 0 || num >= len(s.sems) {
		return 0, unix.EINVAL
	}
	if s.perm.Deleted {
		return 0, unix.EIDRM
	}
	switch q {
	case GetVal:
		return int(s.sems[num].val), nil
	case GetPID:
		return int(s.sems[num].pid), nil
	case GetNcnt:
		return s.count(num, false), nil
	case GetZcnt:
		return s.count(num, true), nil
	}
	return 0, unix.EINVAL
}

// GetAll is semctl GETALL.
func (s *Sem) GetAll(c *Cred) ([]int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.readable(c); err != nil {
		return nil, err
	}
	out := make([]int, len(s.sems))
	for i, m := range s.sems {
		out[i] = int(m.val)
	}
	return out, nil
}

// AppendValues is GETALL as text: the values in decimal, separated by
// blanks, and a newline.
func (s *Sem) AppendValues(dst []byte, c *Cred) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.readable(c); err != nil {
		return dst, err
	}
	for i, m := range s.sems {
		if i > 0 {
			dst = append(dst, ' ')
		}
		dst = strconv.AppendInt(dst, int64(m.val), 10)
	}
	return append(dst, '\n'), nil
}

// readable is the check of GETALL. s.mu is held.
func (s *Sem) readable(c *Cred) error {
	if err := s.perm.Check(c, AccessRead); err != nil {
		return err
	}
	if s.perm.Deleted {
		return unix.EIDRM
	}
	return nil
}

// SetVal is semctl SETVAL: semaphore num becomes val, every undo
// adjustment of it is cleared, and waiters are retried.
func (s *Sem) SetVal(c *Cred, pid int32, num, val int) error {
	if val < 0 || val > SemVMX {
		return unix.ERANGE
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if num < 0 || num >= len(s.sems) {
		return unix.EINVAL
	}
	if err := s.perm.Check(c, AccessWrite); err != nil {
		return err
	}
	if s.perm.Deleted {
		return unix.EIDRM
	}
	s.fresh = false
	s.clearUndo(num)
	s.sems[num] = semaphore{val: int32(val), pid: pid}
	s.ctime = s.table.ns.model.Now()
	s.update()
	s.logSem(false)
	return nil
}

// SetAll is semctl SETALL: one value per semaphore, each in [0, SEMVMX];
// every undo adjustment is cleared and waiters are retried. A fresh set
// (made by open(O_CREAT) and not used since) takes its size from the
// number of values, within semmsl (EINVAL) and semmns (ENOSPC); any other
// set needs exactly one value per semaphore (EINVAL).
func (s *Sem) SetAll(c *Cred, pid int32, vals []int) error {
	t := s.table
	t.mu.Lock()
	defer t.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.perm.Check(c, AccessWrite); err != nil {
		return err
	}
	n := len(vals)
	if n != len(s.sems) {
		if !s.fresh || n == 0 {
			return unix.EINVAL
		}
		lim := t.ns.Limits()
		if n > lim.SemMsl {
			return unix.EINVAL
		}
		if !s.perm.Deleted && t.used-len(s.sems)+n > lim.SemMns {
			return unix.ENOSPC
		}
	}
	for _, v := range vals {
		if v < 0 || v > SemVMX {
			return unix.ERANGE
		}
	}
	if s.perm.Deleted {
		return unix.EIDRM
	}
	if n != len(s.sems) {
		t.used += n - len(s.sems)
		s.sems = make([]semaphore, n)
	}
	s.fresh = false
	for i, v := range vals {
		s.sems[i] = semaphore{val: int32(v), pid: pid}
	}
	s.clearUndo(-1)
	s.ctime = t.ns.model.Now()
	s.update()
	s.logSem(true)
	return nil
}
