package nsmodel

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// Journal receives a record of every change of the model's state, so
// that a server started after this one dies can rebuild the model
// (docs/crash.md). A record is written at the end of the change, with
// the lock of the object it describes still held, and before the
// caller is answered: records of one object reach the journal in the
// order of its changes, and nothing acknowledged is missing. The
// journal must not call back into the model.
//
// A record is whole: the state of one object (an upsert), or one
// message added to or taken from a queue, or an object gone. Replayed
// in order onto the state of the last snapshot it gives the state at
// the moment of the last record (Restore).
type Journal interface {
	Append(rec []byte)
}

// SetJournal makes j receive the model's records from now on; nil (the
// default) records nothing.
func (m *Model) SetJournal(j Journal) { m.journal = j }

// Record kinds, the first byte of a record.
const (
	recNS      = 'N' // a namespace exists, with its serial and binding
	recNSGone  = 'n' // a namespace is gone
	recLimits  = 'L' // a namespace's limits
	recQuotas  = 'Q' // the model takes limits as quotas
	recReg     = 'R' // a table's id allocation state
	recShm     = 'S' // a segment, whole
	recMsg     = 'M' // a queue's attributes (not its messages)
	recMsgTime = 'T' // a queue's pids and times
	recMsgAdd  = 'a' // a message appended to a queue
	recMsgTake = 't' // a message taken from a queue
	recSem     = 'E' // a set, whole, with its undo records
	recGone    = 'D' // an object is gone
	recMaps    = 'G' // the devices old mappings of segments may show
)

// Object kinds in records.
const (
	kindShm = 's'
	kindMsg = 'm'
	kindSem = 'e'
)

// enc builds a record.
type enc []byte

func (e *enc) u(v uint64)     { *e = binary.AppendUvarint(*e, v) }
func (e *enc) i(v int64)      { *e = binary.AppendVarint(*e, v) }
func (e *enc) b(v byte)       { *e = append(*e, v) }
func (e *enc) str(s string)   { e.u(uint64(len(s))); *e = append(*e, s...) }
func (e *enc) bytes(p []byte) { e.u(uint64(len(p))); *e = append(*e, p...) }
func (e *enc) flag(v bool) {
	if v {
		e.b(1)
	} else {
		e.b(0)
	}
}

// dec reads a record; the first error sticks, and reads after it give
// zeros.
type dec struct {
	p   []byte
	err error
}

func (d *dec) fail() {
	if d.err == nil {
		d.err = unix.EBADMSG
	}
	d.p = nil
}

func (d *dec) u() uint64 {
	v, n := binary.Uvarint(d.p)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *dec) i() int64 {
	v, n := binary.Varint(d.p)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *dec) b() byte {
	if len(d.p) < 1 {
		d.fail()
		return 0
	}
	v := d.p[0]
	d.p = d.p[1:]
	return v
}

func (d *dec) flag() bool { return d.b() != 0 }

func (d *dec) bytes() []byte {
	n := d.u()
	if uint64(len(d.p)) < n {
		d.fail()
		return nil
	}
	v := d.p[:n:n]
	d.p = d.p[n:]
	return v
}

func (d *dec) str() string { return string(d.bytes()) }

// perm writes the fields of an ipc_perm that a record keeps.
func (e *enc) perm(p *Perm) {
	e.i(int64(p.Key))
	e.i(int64(p.ID))
	e.u(uint64(p.UID))
	e.u(uint64(p.GID))
	e.u(uint64(p.CUID))
	e.u(uint64(p.CGID))
	e.u(uint64(p.Mode))
}

func (d *dec) perm() Perm {
	p := Perm{Key: int32(d.i()), ID: int32(d.i())}
	p.UID, p.GID = uint32(d.u()), uint32(d.u())
	p.CUID, p.CGID = uint32(d.u()), uint32(d.u())
	p.Mode = uint32(d.u())
	p.seq = p.ID >> seqShift
	return p
}

// reg writes a table's id allocation state. r.mu is held.
func (e *enc) reg(r *Registry) {
	e.i(int64(r.seq))
	e.i(int64(r.lastIdx))
	e.i(int64(r.nextIdx))
}

func (e *enc) limits(l *Limits) {
	e.u(l.ShmMax)
	e.u(l.ShmAll)
	for _, v := range []int{l.ShmMni, l.MsgMax, l.MsgMnb, l.MsgMni, l.SemMsl, l.SemMns, l.SemOpm, l.SemMni} {
		e.i(int64(v))
	}
}

func (d *dec) limits() Limits {
	l := Limits{ShmMax: d.u(), ShmAll: d.u()}
	for _, p := range []*int{&l.ShmMni, &l.MsgMax, &l.MsgMnb, &l.MsgMni, &l.SemMsl, &l.SemMns, &l.SemOpm, &l.SemMni} {
		*p = int(d.i())
	}
	return l
}

// append hands rec to the journal, if there is one.
func (m *Model) append(rec enc) {
	if m.journal != nil {
		m.journal.Append(rec)
	}
}

// logNS records that ns exists, and its binding. m.mu is held.
func (m *Model) logNS(ns *Namespace) {
	if m.journal == nil {
		return
	}
	m.append(nsRec(ns))
}

// nsRec is the record of a namespace. ns.model.mu is held.
func nsRec(ns *Namespace) enc {
	e := enc{recNS}
	e.str(ns.Name)
	e.u(ns.serial)
	var k KernelNS
	auto := false
	if ns.bind != nil {
		k, auto = ns.bind.file.k, ns.bind.auto
	}
	e.u(uint64(k))
	e.flag(auto)
	return e
}

// logNSGone records that the namespace called name is gone. m.mu is
// held.
func (m *Model) logNSGone(name string) {
	if m.journal == nil {
		return
	}
	e := enc{recNSGone}
	e.str(name)
	m.append(e)
}

// logLimits records ns's limits. ns.mu is held.
func (ns *Namespace) logLimits() {
	if ns.model.journal == nil {
		return
	}
	ns.model.append(limitsRec(ns))
}

func limitsRec(ns *Namespace) enc {
	e := enc{recLimits}
	e.str(ns.Name)
	e.limits(&ns.limits)
	return e
}

// logQuotas records that the model takes limits as quotas.
func (m *Model) logQuotas() { m.append(enc{recQuotas}) }

// regRec is the record of a table's id allocation. r.mu is held.
func regRec(ns *Namespace, kind byte, r *Registry) enc {
	e := enc{recReg}
	e.str(ns.Name)
	e.b(kind)
	e.reg(r)
	return e
}

// logShm records segment s whole. t.mu is held.
func (t *ShmTable) logShm(s *Shm) {
	if t.ns.model.journal == nil {
		return
	}
	t.ns.model.append(shmRec(t, s))
}

// PagesIno is the inode number of a page store, by which a server that
// restarts finds the memfd of each segment among those the keeper held.
func PagesIno(p Pages) uint64 {
	var st unix.Stat_t
	if p == nil || unix.Fstat(p.Fd(), &st) != nil {
		return 0
	}
	return st.Ino
}

// shmRec is the record of a segment. t.mu is held.
func shmRec(t *ShmTable, s *Shm) enc {
	e := enc{recShm}
	e.str(t.ns.Name)
	e.reg(&t.Registry)
	e.perm(&s.perm)
	e.u(s.serial)
	e.u(s.size)
	e.u(s.cap)
	e.flag(s.sealed)
	e.i(int64(s.cpid))
	e.i(int64(s.lpid))
	e.i(s.atime)
	e.i(s.dtime)
	e.i(s.ctime)
	e.flag(s.hugetlb)
	e.u(uint64(s.lockUID))
	e.u(PagesIno(s.pages))
	return e
}

// logGone records that an object of kind is gone from table r of ns.
// r.mu is held.
func (ns *Namespace) logGone(kind byte, r *Registry, id int32) {
	if ns.model.journal == nil {
		return
	}
	e := enc{recGone}
	e.str(ns.Name)
	e.b(kind)
	e.reg(r)
	e.i(int64(id))
	ns.model.append(e)
}

// logMsg records queue q's attributes. t.mu and q.mu are held.
func (t *MsgTable) logMsg(q *Msg) {
	if t.ns.model.journal == nil {
		return
	}
	t.ns.model.append(msgRec(t, q))
}

// msgRec is the record of a queue without its messages. t.mu and q.mu
// are held.
func msgRec(t *MsgTable, q *Msg) enc {
	e := enc{recMsg}
	e.str(t.ns.Name)
	e.reg(&t.Registry)
	e.perm(&q.perm)
	e.u(q.serial)
	e.u(q.qbytes)
	q.times(&e)
	return e
}

// times writes what each send and receive moves. q.mu is held.
func (q *Msg) times(e *enc) {
	e.i(int64(q.lspid))
	e.i(int64(q.lrpid))
	e.i(q.stime)
	e.i(q.rtime)
	e.i(q.ctime)
}

// logTimes records q's pids and times (a message handed straight to a
// receiver changes nothing else). q.mu is held.
func (q *Msg) logTimes() {
	m := q.table.ns.model
	if m.journal == nil {
		return
	}
	e := enc{recMsgTime}
	e.str(q.table.ns.Name)
	e.i(int64(q.perm.ID))
	q.times(&e)
	m.append(e)
}

// logAdd records message msg appended to q. q.mu is held.
func (q *Msg) logAdd(msg *message) {
	m := q.table.ns.model
	if m.journal == nil {
		return
	}
	m.append(msgAddRec(q, msg))
}

func msgAddRec(q *Msg, msg *message) enc {
	e := enc{recMsgAdd}
	e.str(q.table.ns.Name)
	e.i(int64(q.perm.ID))
	q.times(&e)
	e.bytes(msg.buf)
	return e
}

// logTake records that the message at index i of q was taken. q.mu is
// held.
func (q *Msg) logTake(i int) {
	m := q.table.ns.model
	if m.journal == nil {
		return
	}
	e := enc{recMsgTake}
	e.str(q.table.ns.Name)
	e.i(int64(q.perm.ID))
	q.times(&e)
	e.u(uint64(i))
	m.append(e)
}

// logSem records set s whole, with its undo records; withReg adds the
// table's id allocation, which needs t.mu. s.mu is held.
func (s *Sem) logSem(withReg bool) {
	m := s.table.ns.model
	if m.journal == nil {
		return
	}
	m.append(semRec(s, withReg))
}

func semRec(s *Sem, withReg bool) enc {
	t := s.table
	e := enc{recSem}
	e.str(t.ns.Name)
	e.flag(withReg)
	if withReg {
		e.reg(&t.Registry)
	}
	e.perm(&s.perm)
	e.u(s.serial)
	e.i(s.otime)
	e.i(s.ctime)
	e.flag(s.fresh)
	e.u(uint64(len(s.sems)))
	for _, x := range s.sems {
		e.i(int64(x.val))
		e.i(int64(x.pid))
	}
	n := 0
	for u := s.undos; u != nil; u = u.next {
		n++
	}
	e.u(uint64(n))
	for u := s.undos; u != nil; u = u.next {
		for _, a := range u.adj {
			e.i(int64(a))
		}
	}
	return e
}

// MapDevices records the devices under which mappings of segments made
// through this server's mount, and earlier ones', show in
// /proc/<pid>/maps, so that a server that restarts can count them.
func (m *Model) MapDevices(devs []uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mapDevs = append(m.mapDevs[:0], devs...)
	m.append(mapsRec(m.mapDevs))
}

// OldMapDevices are the devices of MapDevices as the last server
// recorded them.
func (m *Model) OldMapDevices() []uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]uint64(nil), m.mapDevs...)
}

func mapsRec(devs []uint64) enc {
	e := enc{recMaps}
	e.u(uint64(len(devs)))
	for _, d := range devs {
		e.u(d)
	}
	return e
}
