package nsmodel

// Shutdown wakes every caller blocked in the model — a receive or send
// on a queue, a semop on a set — with err, as removing the object would
// wake it with EIDRM, so that the server can end: a request that never
// returns keeps its file open and the mount busy. The objects stay as
// they are. (The minimal form, written by the toolbox work for the
// server's SIGTERM; the trust work owns the model's lifetimes and may
// replace it with one that also refuses to block afterwards.)
func (m *Model) Shutdown(err error) {
	for _, name := range m.Names() {
		ns := m.Get(name)
		if ns == nil {
			continue
		}
		for _, q := range ns.Msg.List() {
			q.mu.Lock()
			q.expunge(err)
			q.mu.Unlock()
		}
		for _, s := range ns.Sem.List() {
			s.mu.Lock()
			for _, wq := range []*waitQueue{&s.pendingConst, &s.pendingAlter} {
				for wq.head != nil {
					w := wq.head
					wq.unlink(w)
					w.finish(err)
				}
			}
			s.mu.Unlock()
		}
	}
}
