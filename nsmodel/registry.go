package nsmodel

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Constants of ipc/util.h for the default (not extended) id layout.
const (
	IPCMNI      = 32768 // most objects of one kind in a namespace
	idxMask     = IPCMNI - 1
	seqShift    = 15
	seqMax      = 0x7fffffff >> seqShift
	ipcMinCycle = 64 // RADIX_TREE_MAP_SIZE: shortest cycle of index reuse
)

// Object is what every table entry is: a Shm, a Msg or a Sem, each of
// which starts with an ipcObject.
type Object interface {
	// ipcPerm is the object's live ipc_perm, for this package only:
	// callers outside it get snapshots (ObjectStat).
	ipcPerm() *Perm
	// snapshot copies the object's header; its table's lock is held.
	snapshot() ObjectStat
	// Serial is unique across the whole model for the life of the
	// process, so a file system can use it as an inode number.
	Serial() uint64
}

// ipcObject is what every object starts with, as every kernel object
// starts with its kern_ipc_perm. perm is protected by the lock of the
// table that holds the object (and, for a Sem, written under the set's
// mu too: see Sem); no accessor hands it out, only copies of it
// (ObjectStat). serial never changes and needs no lock.
type ipcObject struct {
	perm   Perm
	serial uint64
}

func (o *ipcObject) ipcPerm() *Perm { return &o.perm }

// Serial implements Object. It never changes: no lock is needed.
func (o *ipcObject) Serial() uint64 { return o.serial }

// newObject starts an object of key, its permission bits mode, owned and
// made by c.
func newObject(key int32, mode uint32, c *Cred) ipcObject {
	return ipcObject{perm: newPerm(key, mode, c), serial: nextSerial()}
}

// ObjectStat is what every snapshot (ShmStat, MsgStat, SemStat) starts
// with: the object's ipc_perm as it was, its name in its table
// (EntryName) and its serial.
type ObjectStat struct {
	Perm
	Name   string
	Serial uint64
}

// snapshot copies the object's header. The table's lock is held (or,
// for a Sem, the set's mu).
func (o *ipcObject) snapshot() ObjectStat {
	return ObjectStat{Perm: o.perm, Name: EntryName(&o.perm), Serial: o.serial}
}

var serials atomic.Uint64

func nextSerial() uint64 { return serials.Add(1) }

// Registry is struct ipc_ids: the id table of one kind in one namespace,
// shared by the three kinds.
type Registry struct {
	// mu protects every field below, the Perm of every object in the
	// table, and whatever per-object state the kind documents as
	// protected by its table.
	mu sync.Mutex

	// slots holds the objects by index, nil where there is none; it is
	// as long as the highest index in use (a slice costs an object 16
	// bytes where a map cost it about a hundred).
	slots []Object
	// inUse is the number of objects in slots.
	inUse   int
	byKey   map[int32]Object // public keys only
	seq     int32
	lastIdx int32
	nextIdx int32 // idr_next: where the cyclic index search starts
	// nextID is ids->next_id, the *_next_id sysctl: the id the next
	// object gets, or -1 (next_id.go).
	nextID int32
	// dead is set when the namespace is removed; nothing is created in
	// the table after that.
	dead bool
}

func (r *Registry) init() {
	r.byKey = make(map[int32]Object)
	r.lastIdx = -1
	r.nextID = -1
}

// alive is ENOENT once the namespace is removed: its directory is gone,
// and creating a file in a removed directory is ENOENT. A create that
// looked the namespace up before the removal ends here. r.mu is held.
func (r *Registry) alive() error {
	if r.dead {
		return unix.ENOENT
	}
	return nil
}

// add is ipc_addid: it gives o an id formed as the kernel forms it, the
// index allocated cyclically below max(in_use*3/2, 64) and the sequence
// advanced when the index wraps. limit is the kind's *mni; ENOSPC when
// the table holds that many. r.mu is held.
func (r *Registry) add(o Object, limit int) error {
	if err := r.alive(); err != nil {
		return err
	}
	if limit > IPCMNI {
		limit = IPCMNI
	}
	inUse := r.inUse
	if inUse >= limit {
		return unix.ENOSPC
	}
	if id := r.nextID; id >= 0 {
		r.nextID = -1
		return r.addAt(o, id)
	}
	maxIdx := max(inUse*3/2, ipcMinCycle)
	maxIdx = min(maxIdx, IPCMNI)
	idx, ok := r.allocCyclic(int32(maxIdx))
	if !ok {
		return unix.ENOSPC
	}
	if idx <= r.lastIdx {
		r.seq++
		if r.seq >= seqMax {
			r.seq = 0
		}
	}
	r.lastIdx = idx
	r.place(o, idx, r.seq)
	return nil
}

// place puts o at index idx with sequence seq. r.mu is held.
func (r *Registry) place(o Object, idx, seq int32) {
	p := o.ipcPerm()
	p.seq = seq
	p.ID = seq<<seqShift + idx
	for int(idx) >= len(r.slots) {
		r.slots = append(r.slots, nil)
	}
	r.slots[idx] = o
	r.inUse++
	if p.Key != IPCPrivate {
		r.byKey[p.Key] = o
	}
}

// allocCyclic is idr_alloc_cyclic over [0, end).
func (r *Registry) allocCyclic(end int32) (int32, bool) {
	start := r.nextIdx
	if start >= end {
		start = 0
	}
	for _, span := range [][2]int32{{start, end}, {0, start}} {
		for i := span[0]; i < span[1]; i++ {
			if int(i) >= len(r.slots) || r.slots[i] == nil {
				r.nextIdx = i + 1
				return i, true
			}
		}
	}
	return 0, false
}

// forgetKey is ipc_set_key_private: the object stays in the table but can
// no longer be found by key. r.mu is held.
func (r *Registry) forgetKey(o Object) {
	p := o.ipcPerm()
	if p.Key != IPCPrivate && r.byKey[p.Key] == o {
		delete(r.byKey, p.Key)
	}
	p.Key = IPCPrivate
}

// remove is ipc_rmid. r.mu is held.
func (r *Registry) remove(o Object) {
	p := o.ipcPerm()
	r.forgetKey(o)
	if i := int(p.ID & idxMask); i < len(r.slots) && r.slots[i] == o {
		r.slots[i] = nil
		r.inUse--
		for len(r.slots) > 0 && r.slots[len(r.slots)-1] == nil {
			r.slots = r.slots[:len(r.slots)-1]
		}
	}
	p.Deleted = true
}

// findKey is ipc_findkey. r.mu is held.
func (r *Registry) findKey(key int32) Object { return r.byKey[key] }

// findID is ipc_obtain_object_check: EINVAL for an id that names nothing,
// or names a slot whose sequence has moved on. r.mu is held.
func (r *Registry) findID(id int32) (Object, error) {
	if id < 0 {
		return nil, unix.EINVAL
	}
	i := int(id & idxMask)
	if i >= len(r.slots) || r.slots[i] == nil || r.slots[i].ipcPerm().seq != id>>seqShift {
		return nil, unix.EINVAL
	}
	return r.slots[i], nil
}

// sorted returns the objects in index order. r.mu is held.
func (r *Registry) sorted() []Object {
	out := make([]Object, 0, r.inUse)
	for _, o := range r.slots {
		if o != nil {
			out = append(out, o)
		}
	}
	return out
}

// collect maps every object of r, in index order, through f, under r.mu.
// A method cannot take the object's type, so a function does.
func collect[O Object, V any](r *Registry, f func(O) V) []V {
	r.mu.Lock()
	defer r.mu.Unlock()
	objs := r.sorted()
	out := make([]V, len(objs))
	for i, o := range objs {
		out[i] = f(o.(O))
	}
	return out
}

// InUse is the number of objects in the table.
func (r *Registry) InUse() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inUse
}
