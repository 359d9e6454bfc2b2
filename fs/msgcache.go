package fs

import (
	"sync"
	"sync/atomic"

	"github.com/shmfs/shmfs/nsmodel"
)

// queueCaches finds the inodes that the kernel holds of each message
// queue: one per lookup of one of its names (msgdir.go), each with its
// own copy of the attributes, all of which must go when the queue
// changes.
type queueCaches struct {
	// mu protects byQueue.
	mu      sync.Mutex
	byQueue map[*nsmodel.Msg]*queueCache
}

// queueCache is what the kernel may cache of one queue.
type queueCache struct {
	now func() int64
	// replies counts the attributes given to the kernel.
	replies atomic.Uint64
	// dropped says when the attributes of every inode were last dropped:
	// a change at the same second with no reply since needs no drop.
	dropped atomic.Pointer[dropMark]

	// mu protects nodes, and serializes drops.
	mu    sync.Mutex
	nodes []*msgNode
}

type dropMark struct {
	sec     int64
	replies uint64
}

// add records n, a new inode of q, before its attributes are read.
func (c *queueCaches) add(m *mountState, q *nsmodel.Msg, n *msgNode) *queueCache {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byQueue == nil {
		c.byQueue = make(map[*nsmodel.Msg]*queueCache)
	}
	qc := c.byQueue[q]
	if qc == nil {
		qc = &queueCache{now: m.model.Now}
		c.byQueue[q] = qc
	}
	qc.mu.Lock()
	qc.nodes = append(qc.nodes, n)
	qc.mu.Unlock()
	return qc
}

// remove forgets n, which the kernel forgot.
func (c *queueCaches) remove(q *nsmodel.Msg, n *msgNode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	qc := c.byQueue[q]
	if qc == nil {
		return
	}
	qc.mu.Lock()
	for i, x := range qc.nodes {
		if x == n {
			qc.nodes = append(qc.nodes[:i], qc.nodes[i+1:]...)
			break
		}
	}
	empty := len(qc.nodes) == 0
	qc.mu.Unlock()
	if empty {
		delete(c.byQueue, q)
	}
}

// changed drops the attributes of every inode of q that the kernel
// holds: after an IPC_SET or IPC_RMID it did not see.
func (c *queueCaches) changed(q *nsmodel.Msg) {
	c.mu.Lock()
	qc := c.byQueue[q]
	c.mu.Unlock()
	if qc != nil {
		qc.changed(nil)
	}
}

// replied is told that attributes of the queue were read for a reply.
func (qc *queueCache) replied() { qc.replies.Add(1) }

// moved is told of a send or a receive, which set msg_stime and
// msg_rtime (atime and mtime) to the current second: unless the kernel
// was told to drop the attributes at this second and has had none since,
// they go, before the call returns.
func (qc *queueCache) moved() {
	now, r := qc.now(), qc.replies.Load()
	if d := qc.dropped.Load(); d != nil && d.sec == now && d.replies == r {
		return
	}
	qc.mu.Lock()
	defer qc.mu.Unlock()
	if d := qc.dropped.Load(); d != nil && d.sec == now && d.replies == r {
		return
	}
	qc.dropLocked(nil)
	qc.dropped.Store(&dropMark{sec: now, replies: r})
}

// changed drops the attributes of every inode of the queue but except,
// whose reply carries the new ones: an IPC_SET, an IPC_RMID.
func (qc *queueCache) changed(except *msgNode) {
	qc.mu.Lock()
	defer qc.mu.Unlock()
	qc.dropLocked(except)
}

// dropLocked drops the attributes of the queue's inodes. qc.mu is held;
// the kernel takes no lock to drop attributes, so a request handler of
// one of them may call it.
func (qc *queueCache) dropLocked(except *msgNode) {
	for _, n := range qc.nodes {
		if n != except {
			dropAttr(n.EmbeddedInode())
		}
	}
}
