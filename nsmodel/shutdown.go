package nsmodel

import "golang.org/x/sys/unix"

// Shutdown ends every wait in the model, for a server that is going
// away: each caller blocked in msgsnd, msgrcv or semop wakes with err,
// and from then on a call that would block fails with err at once. err
// is what the callers are told, EIDRM (as when the object is removed)
// or EINTR (as when the caller is interrupted); any other error is taken
// as EINTR.
//
// Nothing is applied by half: a blocked send leaves its message out of
// the queue, a blocked receive takes none, and a blocked semop, whose
// operations were rolled back when it went to sleep, changes no value.
// Calls that complete without blocking go on as before, so a message
// sent is still there for a receive that does not wait. Shutdown may be
// called more than once; the first err stays.
//
// Lock order: Model.mu (to list the namespaces), then each table's mu
// (to list its objects), released before each object's mu is taken.
func (m *Model) Shutdown(err error) {
	if err != unix.EIDRM {
		err = unix.EINTR
	}
	e := err
	m.down.CompareAndSwap(nil, &e)
	err = *m.down.Load()
	for _, name := range m.Names() {
		ns := m.Get(name)
		if ns == nil {
			continue // removed meanwhile: it held no object
		}
		for _, q := range ns.Msg.List() {
			q.mu.Lock()
			q.expunge(err)
			q.mu.Unlock()
		}
		for _, s := range ns.Sem.List() {
			s.mu.Lock()
			s.expungeWaiters(err)
			s.mu.Unlock()
		}
	}
}

// shutDown is the error a call that would block gets once Shutdown has
// been called, nil before. It is read under the lock of the object the
// caller would wait on, which Shutdown takes after setting it, so a
// caller either sees it or is already queued where Shutdown wakes it.
func (m *Model) shutDown() error {
	if e := m.down.Load(); e != nil {
		return *e
	}
	return nil
}

// expungeWaiters wakes every waiter of the set with err; their
// operations were rolled back when they went to sleep. s.mu is held.
func (s *Sem) expungeWaiters(err error) {
	for _, q := range []*waitQueue{&s.pendingConst, &s.pendingAlter} {
		for q.head != nil {
			w := q.head
			q.unlink(w)
			w.finish(err)
		}
	}
}
