package fs

import (
	"sync"
	"sync/atomic"

	"github.com/shmfs/shmfs/nsmodel"
)

// setCaches finds the inodes that the kernel holds of each semaphore set:
// one per lookup of its name (semdir.go), each with its own copy of the
// attributes, all of which must go when the set changes. It is kept as
// queueCaches is (msgcache.go).
type setCaches struct {
	// mu protects bySet.
	mu    sync.Mutex
	bySet map[*nsmodel.Sem]*setCache
}

// setCache is what the kernel may cache of one set.
type setCache struct {
	now func() int64
	// replies counts the attributes given to the kernel.
	replies atomic.Uint64
	// dropped says when the attributes of every inode were last dropped:
	// a change at the same second with no reply since needs no drop.
	dropped atomic.Pointer[dropMark]

	// mu protects nodes, and serializes drops.
	mu    sync.Mutex
	nodes []*semNode
}

// add records n, a new inode of s, before its attributes are read.
func (c *setCaches) add(m *mountState, s *nsmodel.Sem, n *semNode) *setCache {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bySet == nil {
		c.bySet = make(map[*nsmodel.Sem]*setCache)
	}
	sc := c.bySet[s]
	if sc == nil {
		sc = &setCache{now: m.model.Now}
		c.bySet[s] = sc
	}
	sc.mu.Lock()
	sc.nodes = append(sc.nodes, n)
	sc.mu.Unlock()
	return sc
}

// remove forgets n, which the kernel forgot.
func (c *setCaches) remove(s *nsmodel.Sem, n *semNode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sc := c.bySet[s]
	if sc == nil {
		return
	}
	sc.mu.Lock()
	for i, x := range sc.nodes {
		if x == n {
			sc.nodes = append(sc.nodes[:i], sc.nodes[i+1:]...)
			break
		}
	}
	empty := len(sc.nodes) == 0
	sc.mu.Unlock()
	if empty {
		delete(c.bySet, s)
	}
}

// get returns the cache of s, or nil when the kernel holds no inode of it.
func (c *setCaches) get(s *nsmodel.Sem) *setCache {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bySet[s]
}

// changed drops the attributes of every inode of s that the kernel
// holds: after an IPC_SET or IPC_RMID it did not see.
func (c *setCaches) changed(s *nsmodel.Sem) {
	if sc := c.get(s); sc != nil {
		sc.changed(nil)
	}
}

// moved is setCache.moved for a set whose inodes are not at hand: a
// SETVAL or SETALL through ctl.
func (c *setCaches) moved(s *nsmodel.Sem) {
	if sc := c.get(s); sc != nil {
		sc.moved()
	}
}

// replied is told, before the attributes of the set are read for a reply,
// that they will be: a change that reads the count after that drops them.
func (sc *setCache) replied() { sc.replies.Add(1) }

// moved is told of what sets a time of the set to the current second: a
// semop, or a blocked one it completed, sets sem_otime (atime and mtime);
// SETVAL and SETALL set sem_ctime; the SEM_UNDO of a release sets
// sem_otime. Unless the kernel was told to drop the attributes at this
// second and has had none since, they go, before the call returns.
func (sc *setCache) moved() {
	now, r := sc.now(), sc.replies.Load()
	if d := sc.dropped.Load(); d != nil && d.sec == now && d.replies == r {
		return
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if d := sc.dropped.Load(); d != nil && d.sec == now && d.replies == r {
		return
	}
	sc.dropLocked(nil)
	sc.dropped.Store(&dropMark{sec: now, replies: r})
}

// changed drops the attributes of every inode of the set but except,
// whose reply carries the new ones: an IPC_SET, an IPC_RMID.
func (sc *setCache) changed(except *semNode) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.dropLocked(except)
}

// dropLocked drops the attributes of the set's inodes. sc.mu is held; the
// kernel takes no lock to drop attributes, so a request handler of one of
// them may call it.
func (sc *setCache) dropLocked(except *semNode) {
	for _, n := range sc.nodes {
		if n != except {
			dropAttr(n.EmbeddedInode())
		}
	}
}
