package nsmodel

import (
	"context"
	"time"

	"golang.org/x/sys/unix"
)

// SemUndoFlag is SEM_UNDO (linux/sem.h): the operation is undone when
// its holder goes. The other flag of an operation is IPCNoWait.
const SemUndoFlag = 0x1000

// Sembuf is struct sembuf: one operation of a semop.
type Sembuf struct {
	Num uint16 // sem_num
	Op  int16  // sem_op
	Flg int16  // sem_flg
}

// SemOp is one semop or semtimedop call.
type SemOp struct {
	Ops []Sembuf
	// Timed makes it a semtimedop: give up with EAGAIN after Timeout.
	Timed   bool
	Timeout time.Duration
}

// semWaiter is struct sem_queue: a semop that sleeps until it can
// complete. It is protected by the mu of its set.
type semWaiter struct {
	ops   []Sembuf
	undo  *SemUndo
	pid   int32
	alter bool
	// blocking is the index of the operation it sleeps on, for GETNCNT
	// and GETZCNT.
	blocking int

	prev, next *semWaiter
	// done is set, with err, when the operation has completed, failed
	// or been refused; wake is then signalled once.
	done bool
	err  error
	wake chan struct{}
}

// waitQueue is a FIFO list of waiters.
type waitQueue struct{ head, tail *semWaiter }

func (q *waitQueue) push(w *semWaiter) {
	w.prev, w.next = q.tail, nil
	if q.tail != nil {
		q.tail.next = w
	} else {
		q.head = w
	}
	q.tail = w
}

func (q *waitQueue) unlink(w *semWaiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		q.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		q.tail = w.prev
	}
	w.prev, w.next = nil, nil
}

// Op is semtimedop on the set for a caller: the operations apply all
// together or not at all. When they cannot apply yet, Op sleeps until
// they can, the timeout passes (EAGAIN), the set is removed (EIDRM), or
// ctx is done (EINTR, nothing applied). u holds the SEM_UNDO adjustments
// of the caller and must not be nil when an operation has SEM_UNDO; pid
// is recorded as sempid.
func (s *Sem) Op(ctx context.Context, c *Cred, pid int32, u *SemUndo, op SemOp) error {
	ops := op.Ops
	if len(ops) > s.table.ns.Limits().SemOpm {
		return unix.E2BIG
	}
	if len(ops) < 1 || (op.Timed && op.Timeout < 0) {
		return unix.EINVAL
	}
	var maxNum uint16
	alter, undos := false, false
	for _, o := range ops {
		maxNum = max(maxNum, o.Num)
		alter = alter || o.Op != 0
		undos = undos || o.Flg&SemUndoFlag != 0
	}
	access := uint32(AccessRead)
	if alter {
		access = AccessWrite
	}

	s.mu.Lock()
	if int(maxNum) >= len(s.sems) {
		s.mu.Unlock()
		return unix.EFBIG
	}
	if err := s.perm.Check(c, access); err != nil {
		s.mu.Unlock()
		return err
	}
	if s.perm.Deleted {
		s.mu.Unlock()
		return unix.EIDRM
	}
	s.fresh = false
	if !undos {
		u = nil
	} else {
		s.linkUndo(u)
	}
	blocking, err := s.perform(ops, u, pid)
	if err != nil || blocking < 0 {
		if err == nil {
			if alter {
				s.update()
			}
			s.otime = s.table.ns.model.Now()
			s.logSem(false)
		}
		s.mu.Unlock()
		return err
	}

	if err := s.table.ns.model.shutDown(); err != nil {
		s.mu.Unlock() // perform rolled the operations back
		return err
	}
	// Sleep: the operations are copied, as the caller's slice is only
	// lent for the call.
	w := &semWaiter{
		ops:      append([]Sembuf(nil), ops...),
		undo:     u,
		pid:      pid,
		alter:    alter,
		blocking: blocking,
		wake:     make(chan struct{}, 1),
	}
	q := &s.pendingConst
	if alter {
		q = &s.pendingAlter
	}
	q.push(w)
	s.mu.Unlock()

	var expired <-chan time.Time
	if op.Timed {
		t := time.NewTimer(op.Timeout)
		defer t.Stop()
		expired = t.C
	}
	giveUp := unix.EINTR
	select {
	case <-w.wake:
	case <-ctx.Done():
	case <-expired:
		giveUp = unix.EAGAIN
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.done {
		return w.err
	}
	q.unlink(w)
	return giveUp
}

// perform is perform_atomic_semop_slow: it applies ops in order and
// rolls back at the first that cannot apply. It returns the index of the
// operation that must wait, or -1 when all applied; or the error of an
// operation that failed (ERANGE, or EAGAIN for IPC_NOWAIT). s.mu is held.
func (s *Sem) perform(ops []Sembuf, u *SemUndo, pid int32) (int, error) {
	var err error
	blocking := -1
	i := 0
	for ; i < len(ops); i++ {
		o := &ops[i]
		cur := &s.sems[o.Num]
		v := cur.val + int32(o.Op)
		if (o.Op == 0 && cur.val != 0) || v < 0 {
			if o.Flg&IPCNoWait != 0 {
				err = unix.EAGAIN
			} else {
				blocking = i
			}
			break
		}
		if v > SemVMX {
			err = unix.ERANGE
			break
		}
		if o.Flg&SemUndoFlag != 0 {
			adj := u.adj[o.Num] - int32(o.Op)
			if adj < -SemAEM-1 || adj > SemAEM {
				err = unix.ERANGE
				break
			}
			u.adj[o.Num] = adj
		}
		cur.val = v
	}
	if i == len(ops) {
		for j := range ops {
			s.sems[ops[j].Num].pid = pid
		}
		return -1, nil
	}
	for i--; i >= 0; i-- {
		o := &ops[i]
		s.sems[o.Num].val -= int32(o.Op)
		if o.Flg&SemUndoFlag != 0 {
			u.adj[o.Num] += int32(o.Op)
		}
	}
	return blocking, err
}

// finish completes a waiter that has left its queue. s.mu is held.
func (w *semWaiter) finish(err error) {
	w.done, w.err = true, err
	w.wake <- struct{}{}
}

// update retries the waiters after the values changed, as
// do_smart_update does: those that wait for zero first, then those that
// alter in arrival order, starting over after each one that completes,
// since it changed the values for all. A waiter that now fails (ERANGE,
// EAGAIN) is woken with its error. When any completed, sem_otime moves.
// s.mu is held.
func (s *Sem) update() {
	defer s.pollChanged()
	if s.pendingAlter.head == nil && s.pendingConst.head == nil {
		return
	}
	completed := s.wakeZero()
again:
	for w := s.pendingAlter.head; w != nil; {
		next := w.next
		blocking, err := s.perform(w.ops, w.undo, w.pid)
		if err == nil && blocking >= 0 {
			w.blocking = blocking
			w = next
			continue
		}
		s.pendingAlter.unlink(w)
		w.finish(err)
		if err == nil {
			completed = true
			s.wakeZero()
			goto again
		}
		w = next
	}
	if completed {
		s.otime = s.table.ns.model.Now()
	}
}

// wakeZero retries the waiters that alter nothing (wake_const_ops). s.mu
// is held.
func (s *Sem) wakeZero() bool {
	completed := false
	for w := s.pendingConst.head; w != nil; {
		next := w.next
		blocking, err := s.perform(w.ops, w.undo, w.pid)
		if err == nil && blocking >= 0 {
			w.blocking = blocking
		} else {
			s.pendingConst.unlink(w)
			w.finish(err)
			completed = completed || err == nil
		}
		w = next
	}
	return completed
}

// count is count_semcnt: the waiters sleeping on semaphore num, for a
// decrement (GETNCNT) or for zero (GETZCNT). Each waiter counts once, on
// the operation it sleeps on. s.mu is held.
func (s *Sem) count(num int, zero bool) int {
	n := 0
	for _, q := range []*waitQueue{&s.pendingConst, &s.pendingAlter} {
		for w := q.head; w != nil; w = w.next {
			o := w.ops[w.blocking]
			if int(o.Num) == num && (o.Op == 0) == zero && o.Op <= 0 {
				n++
			}
		}
	}
	return n
}
