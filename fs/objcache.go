package fs

import (
	"sync"
	"sync/atomic"

	gofs "github.com/hanwen/go-fuse/v2/fs"

	"github.com/shmfs/shmfs/nsmodel"
)

// objCaches finds the inodes that the kernel holds of each object of a
// kind whose files get an inode per lookup (queues and sets, whose
// blocked writers hold their inode's lock): each with its own copy of the
// attributes, all of which must go when the object changes. It is the
// one object cache of the kinds; O is the model's object, N the node.
type objCaches[O comparable, N cachedNode] struct {
	// mu protects by.
	mu sync.Mutex
	by map[O]*objCache[N]
}

// cachedNode is a node whose attributes an objCache drops.
type cachedNode interface {
	comparable
	EmbeddedInode() *gofs.Inode
}

// The caches of the two kinds that have them.
type (
	queueCaches = objCaches[*nsmodel.Msg, *msgNode]
	queueCache  = objCache[*msgNode]
	setCaches   = objCaches[*nsmodel.Sem, *semNode]
	setCache    = objCache[*semNode]
)

// objCache is what the kernel may cache of one object.
type objCache[N cachedNode] struct {
	now func() int64
	// replies counts the attributes given to the kernel.
	replies atomic.Uint64
	// dropped says when the attributes of every inode were last dropped:
	// a change at the same second with no reply since needs no drop.
	dropped atomic.Pointer[dropMark]

	// mu protects nodes, and serializes drops.
	mu    sync.Mutex
	nodes []N
}

type dropMark struct {
	sec     int64
	replies uint64
}

// add records n, a new inode of o, before its attributes are read.
func (c *objCaches[O, N]) add(m *mountState, o O, n N) *objCache[N] {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.by == nil {
		c.by = make(map[O]*objCache[N])
	}
	oc := c.by[o]
	if oc == nil {
		oc = &objCache[N]{now: m.model.Now}
		c.by[o] = oc
	}
	oc.mu.Lock()
	oc.nodes = append(oc.nodes, n)
	oc.mu.Unlock()
	return oc
}

// remove forgets n, which the kernel forgot; the object's cache goes
// with its last inode.
func (c *objCaches[O, N]) remove(o O, n N) {
	c.mu.Lock()
	defer c.mu.Unlock()
	oc := c.by[o]
	if oc == nil {
		return
	}
	oc.mu.Lock()
	for i, x := range oc.nodes {
		if x == n {
			oc.nodes = append(oc.nodes[:i], oc.nodes[i+1:]...)
			break
		}
	}
	empty := len(oc.nodes) == 0
	oc.mu.Unlock()
	if empty {
		delete(c.by, o)
	}
}

// get returns the cache of o, or nil when the kernel holds no inode of it.
func (c *objCaches[O, N]) get(o O) *objCache[N] {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.by[o]
}

// changed drops the attributes of every inode of o that the kernel
// holds: after an IPC_SET or IPC_RMID it did not see.
func (c *objCaches[O, N]) changed(o O) {
	if oc := c.get(o); oc != nil {
		var none N
		oc.changed(none)
	}
}

// moved is objCache.moved for an object whose inodes are not at hand: a
// SETVAL or SETALL through ctl.
func (c *objCaches[O, N]) moved(o O) {
	if oc := c.get(o); oc != nil {
		oc.moved()
	}
}

// replied is told, before the attributes are read for a reply, that they
// will be: a change that reads the count after that drops them.
func (oc *objCache[N]) replied() { oc.replies.Add(1) }

// moved is told of what sets a time of the object to the current second:
// a send or receive (msg_stime, msg_rtime), a semop (sem_otime), SETVAL
// and SETALL (sem_ctime), the SEM_UNDO of a release. Unless the kernel
// was told to drop the attributes at this second and has had none since,
// they go, before the call returns.
func (oc *objCache[N]) moved() {
	now, r := oc.now(), oc.replies.Load()
	if d := oc.dropped.Load(); d != nil && d.sec == now && d.replies == r {
		return
	}
	oc.mu.Lock()
	defer oc.mu.Unlock()
	if d := oc.dropped.Load(); d != nil && d.sec == now && d.replies == r {
		return
	}
	oc.dropLocked(*new(N))
	oc.dropped.Store(&dropMark{sec: now, replies: r})
}

// changed drops the attributes of every inode of the object but except,
// whose reply carries the new ones: an IPC_SET, an IPC_RMID.
func (oc *objCache[N]) changed(except N) {
	oc.mu.Lock()
	defer oc.mu.Unlock()
	oc.dropLocked(except)
}

// dropLocked drops the attributes of the object's inodes. oc.mu is held;
// the kernel takes no lock to drop attributes, so a request handler of
// one of them may call it.
func (oc *objCache[N]) dropLocked(except N) {
	for _, n := range oc.nodes {
		if n != except {
			dropAttr(n.EmbeddedInode())
		}
	}
}
