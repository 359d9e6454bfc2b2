package nsmodel

import (
	"fmt"
	"sort"
)

// Snapshot writes the whole state of the model as records (journal.go),
// which Restore reads back: every namespace with its serial, binding and
// limits, every table's id allocation, every object with its ids, key,
// owner, mode, times and size, every queue's messages in order, every
// set's values and undo records. It takes each object's locks in turn,
// not all at once, so changes may go on meanwhile: a journal that
// receives both the snapshot and the records of those changes, in the
// order they are emitted, replays to the state after the last of them
// (each object's record is emitted under its lock, as the changes'
// are).
func (m *Model) Snapshot(emit func(rec []byte)) {
	m.mu.Lock()
	if m.quotas {
		emit(enc{recQuotas})
	}
	emit(mapsRec(m.mapDevs))
	names := make([]string, 0, len(m.namespaces))
	for n := range m.namespaces {
		names = append(names, n)
	}
	m.mu.Unlock()
	sort.Strings(names)
	for _, name := range names {
		m.mu.Lock()
		ns := m.namespaces[name]
		if ns == nil {
			m.mu.Unlock()
			continue
		}
		emit(nsRec(ns))
		m.mu.Unlock()
		ns.mu.Lock()
		emit(limitsRec(ns))
		ns.mu.Unlock()
		ns.snapshotShm(emit)
		ns.snapshotMsg(emit)
		ns.snapshotSem(emit)
	}
}

// The tables of a namespace removed since the snapshot began are dead,
// and a record of them would bring the namespace back: they are skipped.

func (ns *Namespace) snapshotShm(emit func([]byte)) {
	t := ns.Shm
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dead {
		return
	}
	emit(regRec(ns, kindShm, &t.Registry))
	for _, o := range t.sorted() {
		emit(shmRec(t, o.(*Shm)))
	}
}

func (ns *Namespace) snapshotMsg(emit func([]byte)) {
	t := ns.Msg
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dead {
		return
	}
	emit(regRec(ns, kindMsg, &t.Registry))
	for _, o := range t.sorted() {
		q := o.(*Msg)
		q.mu.Lock()
		emit(msgRec(t, q))
		for _, msg := range q.messages.all() {
			emit(msgAddRec(q, msg))
		}
		q.mu.Unlock()
	}
}

func (ns *Namespace) snapshotSem(emit func([]byte)) {
	t := ns.Sem
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dead {
		return
	}
	emit(regRec(ns, kindSem, &t.Registry))
	for _, o := range t.sorted() {
		s := o.(*Sem)
		s.mu.Lock()
		emit(semRec(s, true))
		s.mu.Unlock()
	}
}

// RestorePages finds the page store of a segment being restored: the
// memfd whose inode number is ino, as the keeper held it. An error
// leaves the segment with new, empty pages.
type RestorePages func(ino uint64, hugetlb bool) (Pages, error)

// Restorer rebuilds a model from records: a Snapshot's, then a
// journal's, in the order they were written.
type Restorer struct {
	m     *Model
	inos  map[*Shm]uint64
	undos map[*Sem][][]int32
	// Problems lists what could not be restored as it was.
	Problems []string
	maxSer   uint64
}

// NewRestorer starts the rebuilding of m, a model fresh from NewModel
// that no one uses yet.
func NewRestorer(m *Model) *Restorer {
	return &Restorer{m: m, inos: make(map[*Shm]uint64), undos: make(map[*Sem][][]int32)}
}

func (r *Restorer) problem(format string, args ...any) {
	if len(r.Problems) < 100 {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

// ns finds or makes the namespace called name.
func (r *Restorer) ns(name string) *Namespace {
	m := r.m
	if ns := m.namespaces[name]; ns != nil {
		return ns
	}
	ns := m.newNamespace(name)
	m.namespaces[name] = ns
	return ns
}

func (r *Restorer) serial(s uint64) uint64 {
	r.maxSer = max(r.maxSer, s)
	return s
}

// setReg restores a table's id allocation state.
func setReg(reg *Registry, d *dec) {
	reg.seq = int32(d.i())
	reg.lastIdx = int32(d.i())
	reg.nextIdx = int32(d.i())
}

// slot returns the object in reg at the index of id, if it has that id.
func slot(reg *Registry, id int32) Object {
	i := int(id & idxMask)
	if id < 0 || i >= len(reg.slots) || reg.slots[i] == nil || reg.slots[i].ipcPerm().ID != id {
		return nil
	}
	return reg.slots[i]
}

// put places o at the index of its id.
func put(reg *Registry, o Object) {
	i := int(o.ipcPerm().ID & idxMask)
	for i >= len(reg.slots) {
		reg.slots = append(reg.slots, nil)
	}
	reg.slots[i] = o
}

// Apply replays one record. A record that cannot be read is an error
// and changes nothing; one that names an object that is not there (a
// message of a queue removed later, say) is skipped.
func (r *Restorer) Apply(rec []byte) error {
	if len(rec) == 0 {
		return fmt.Errorf("empty record")
	}
	d := &dec{p: rec[1:]}
	m := r.m
	switch rec[0] {
	case recQuotas:
		m.quotas = true
	case recMaps:
		n := d.u()
		var devs []uint64
		for i := uint64(0); i < n && d.err == nil; i++ {
			devs = append(devs, d.u())
		}
		if d.err == nil {
			m.mapDevs = devs
		}
	case recNS:
		name, serial := d.str(), d.u()
		k, auto := KernelNS(d.u()), d.flag()
		if d.err != nil {
			break
		}
		ns := r.ns(name)
		ns.serial = r.serial(serial)
		if k != 0 && name != DefaultNamespace {
			if m.oldBinds == nil {
				m.oldBinds = make(map[string]oldBind)
			}
			m.oldBinds[name] = oldBind{k, auto}
		} else {
			delete(m.oldBinds, name)
		}
	case recNSGone:
		name := d.str()
		if d.err == nil && name != DefaultNamespace {
			delete(m.namespaces, name)
			delete(m.oldBinds, name)
		}
	case recLimits:
		name, l := d.str(), d.limits()
		if d.err == nil {
			r.ns(name).limits = l
		}
	case recReg:
		name, kind := d.str(), d.b()
		var reg Registry
		setReg(&reg, d)
		if d.err == nil {
			if t := r.ns(name).table(kind); t != nil {
				t.seq, t.lastIdx, t.nextIdx = reg.seq, reg.lastIdx, reg.nextIdx
			}
		}
	case recShm:
		r.shm(d)
	case recMsg:
		r.msg(d)
	case recMsgTime, recMsgAdd, recMsgTake:
		r.msgTraffic(rec[0], d)
	case recSem:
		r.sem(d)
	case recGone:
		name, kind := d.str(), d.b()
		var reg Registry
		setReg(&reg, d)
		id := int32(d.i())
		if d.err != nil {
			break
		}
		t := r.ns(name).table(kind)
		if t == nil {
			return fmt.Errorf("record of unknown kind %q", kind)
		}
		t.seq, t.lastIdx, t.nextIdx = reg.seq, reg.lastIdx, reg.nextIdx
		if o := slot(t, id); o != nil {
			t.slots[id&idxMask] = nil
			if s, ok := o.(*Shm); ok {
				delete(r.inos, s)
			}
			if s, ok := o.(*Sem); ok {
				delete(r.undos, s)
			}
		}
	default:
		return fmt.Errorf("record of unknown type %q", rec[0])
	}
	if d.err != nil {
		return fmt.Errorf("record %q: %v", rec[0], d.err)
	}
	return nil
}

// table is the registry of kind in ns.
func (ns *Namespace) table(kind byte) *Registry {
	switch kind {
	case kindShm:
		return &ns.Shm.Registry
	case kindMsg:
		return &ns.Msg.Registry
	case kindSem:
		return &ns.Sem.Registry
	}
	return nil
}

func (r *Restorer) shm(d *dec) {
	name := d.str()
	var reg Registry
	setReg(&reg, d)
	p := d.perm()
	s := &Shm{ipcObject: ipcObject{perm: p, serial: d.u()}, size: d.u(), cap: d.u(), sealed: d.flag()}
	s.cpid, s.lpid = int32(d.i()), int32(d.i())
	s.atime, s.dtime, s.ctime = d.i(), d.i(), d.i()
	s.hugetlb = d.flag()
	s.lockUID = uint32(d.u())
	ino := d.u()
	if d.err != nil {
		return
	}
	t := r.ns(name).Shm
	t.seq, t.lastIdx, t.nextIdx = reg.seq, reg.lastIdx, reg.nextIdx
	if o := slot(&t.Registry, p.ID); o != nil {
		delete(r.inos, o.(*Shm))
	}
	s.table = t
	r.serial(s.serial)
	put(&t.Registry, s)
	r.inos[s] = ino
}

func (r *Restorer) msg(d *dec) {
	name := d.str()
	var reg Registry
	setReg(&reg, d)
	p := d.perm()
	serial, qbytes := d.u(), d.u()
	if d.err != nil {
		return
	}
	t := r.ns(name).Msg
	t.seq, t.lastIdx, t.nextIdx = reg.seq, reg.lastIdx, reg.nextIdx
	q, _ := slot(&t.Registry, p.ID).(*Msg)
	if q == nil {
		q = &Msg{ipcObject: ipcObject{perm: p}, table: t}
		put(&t.Registry, q)
	}
	q.perm, q.serial, q.qbytes = p, r.serial(serial), qbytes
	readTimes(q, d)
}

func readTimes(q *Msg, d *dec) {
	lspid, lrpid := int32(d.i()), int32(d.i())
	stime, rtime, ctime := d.i(), d.i(), d.i()
	if d.err == nil {
		q.lspid, q.lrpid, q.stime, q.rtime, q.ctime = lspid, lrpid, stime, rtime, ctime
	}
}

func (r *Restorer) msgTraffic(typ byte, d *dec) {
	name, id := d.str(), int32(d.i())
	if d.err != nil {
		return
	}
	ns := r.m.namespaces[name]
	if ns == nil {
		return
	}
	q, _ := slot(&ns.Msg.Registry, id).(*Msg)
	if q == nil {
		// Removed later, or (in a snapshot taken while traffic went on)
		// not recorded yet: its record holds this change.
		d.p = nil
		return
	}
	readTimes(q, d)
	switch typ {
	case recMsgAdd:
		buf := d.bytes()
		if d.err == nil && len(buf) >= MsgHdrSize {
			b := append([]byte(nil), buf...)
			q.messages.push(&message{mtype: MsgType(b), buf: b})
		}
	case recMsgTake:
		i := d.u()
		if d.err == nil && i < uint64(q.messages.len()) {
			q.messages.remove(int(i))
		}
	}
}

func (r *Restorer) sem(d *dec) {
	name := d.str()
	withReg := d.flag()
	var reg Registry
	if withReg {
		setReg(&reg, d)
	}
	p := d.perm()
	s := &Sem{ipcObject: ipcObject{perm: p, serial: d.u()}, otime: d.i(), ctime: d.i(), fresh: d.flag()}
	n := d.u()
	if n > 1<<20 {
		d.fail()
		return
	}
	s.sems = make([]semaphore, 0, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		s.sems = append(s.sems, semaphore{val: int32(d.i()), pid: int32(d.i())})
	}
	nu := d.u()
	var undos [][]int32
	for i := uint64(0); i < nu && d.err == nil; i++ {
		adj := make([]int32, n)
		for j := range adj {
			adj[j] = int32(d.i())
		}
		undos = append(undos, adj)
	}
	if d.err != nil {
		return
	}
	t := r.ns(name).Sem
	if withReg {
		t.seq, t.lastIdx, t.nextIdx = reg.seq, reg.lastIdx, reg.nextIdx
	}
	if o := slot(&t.Registry, p.ID); o != nil {
		delete(r.undos, o.(*Sem))
	}
	s.table = t
	r.serial(s.serial)
	put(&t.Registry, s)
	r.undos[s] = undos
}

// Finish completes the model: counts, key lookup and shm_tot follow the
// objects, each segment gets its pages back through pages (new empty
// ones, and a Problem, where that fails), a locked segment is pinned
// again, and the undo records of every set are applied, as the handles
// that held them died with the old server (exit_sem). Attaches start at
// none; a server counts the mappings that outlived the old one with
// Survive, then calls ReapDestroyed.
func (r *Restorer) Finish(pages RestorePages) {
	m := r.m
	for _, ns := range m.namespaces {
		for _, reg := range []*Registry{&ns.Shm.Registry, &ns.Msg.Registry, &ns.Sem.Registry} {
			reg.inUse = 0
			clear(reg.byKey)
			for len(reg.slots) > 0 && reg.slots[len(reg.slots)-1] == nil {
				reg.slots = reg.slots[:len(reg.slots)-1]
			}
			for _, o := range reg.slots {
				if o == nil {
					continue
				}
				reg.inUse++
				if p := o.ipcPerm(); p.Key != IPCPrivate {
					reg.byKey[p.Key] = o
				}
			}
		}
		ns.Shm.tot = 0
		for _, o := range ns.Shm.sorted() {
			s := o.(*Shm)
			r.pages(s, pages)
			ns.Shm.tot += pagesOf(s.cap)
		}
		for _, o := range ns.Msg.sorted() {
			q := o.(*Msg)
			q.cbytes = 0
			for _, msg := range q.messages.all() {
				q.cbytes += msg.size()
			}
		}
		ns.Sem.used = 0
		for _, o := range ns.Sem.sorted() {
			s := o.(*Sem)
			ns.Sem.used += len(s.sems)
			r.exitUndos(s)
		}
	}
	if serials.Load() < r.maxSer {
		serials.Store(r.maxSer)
	}
}

// pages gives a restored segment its page store.
func (r *Restorer) pages(s *Shm, pages RestorePages) {
	name := fmt.Sprintf("shmfs:%s:%08x", s.table.ns.Name, uint32(s.perm.Key))
	p, err := pages(r.inos[s], s.hugetlb)
	if err != nil {
		r.problem("segment %d of %s: its pages are lost (%v); it is empty now", s.perm.ID, s.table.ns.Name, err)
		p, err = r.m.NewPages(name, s.hugetlb)
		if err == nil && s.size > 0 {
			if err = p.Truncate(int64(s.size)); err == nil {
				err = p.Seal()
			}
		}
		s.cap, s.sealed = s.size, s.size > 0
		if err != nil {
			r.problem("segment %d of %s: no new pages either: %v", s.perm.ID, s.table.ns.Name, err)
		}
	}
	s.pages = p
	if u, err := p.Stat(); err == nil && !s.hugetlb {
		// Unsealed pages may have grown by passthrough writes the old
		// server never saw (follow); sealed ones are the capacity.
		if !s.sealed {
			s.size = uint64(u.Size)
		}
		s.cap = max(s.size, uint64(u.Size))
	}
	s.cap = max(s.cap, s.size)
	if s.perm.Mode&ShmLocked != 0 {
		if err := p.Lock(int64(s.size)); err != nil {
			r.problem("segment %d of %s: cannot pin its pages again: %v", s.perm.ID, s.table.ns.Name, err)
			s.perm.Mode &^= ShmLocked
		} else {
			s.lockedPgs = pagesOf(s.size)
			r.m.pin(s.lockUID, s.lockedPgs)
		}
	}
}

// exitUndos applies the undo records of s as exit_sem would.
func (r *Restorer) exitUndos(s *Sem) {
	applied := false
	for _, adj := range r.undos[s] {
		for i, a := range adj {
			if a == 0 || i >= len(s.sems) {
				continue
			}
			s.sems[i].val = min(max(s.sems[i].val+a, 0), SemVMX)
			applied = true
		}
	}
	if applied {
		s.otime = r.m.Now()
	}
}

// Survive counts a mapping of s that outlived the server that made it
// as an attach, as it was one.
func (t *ShmTable) Survive(s *Shm) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s.nattch++
}

// ReapDestroyed destroys the removed (SHM_DEST) segments that no
// mapping outlived.
func (m *Model) ReapDestroyed() {
	for _, name := range m.Names() {
		ns := m.Get(name)
		if ns == nil {
			continue
		}
		t := ns.Shm
		t.mu.Lock()
		for _, o := range t.sorted() {
			if s := o.(*Shm); s.perm.Mode&ShmDest != 0 && s.nattch == 0 {
				t.destroy(s)
			}
		}
		t.mu.Unlock()
	}
}

// oldBind is a binding that a restored namespace had: the kernel
// namespace, which the new server must find a process of to open.
type oldBind struct {
	k    KernelNS
	auto bool
}
