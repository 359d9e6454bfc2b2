package fs

import (
	"sync"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
)

// What the kernel may cache, and how it hears of the changes it did not
// make itself.
//
// The kernel keeps a name's lookup (its entry) and a file's attributes for
// as long as the reply that gave them says, and asks again only after
// that. The mount-wide go-fuse timeouts stay 0; each node sets its own:
//
//   - a table directory, and its ctl: fixedTimeout, for their attributes
//     never change;
//   - a segment's name and attributes: objectTimeout. Every change that
//     the kernel does not make itself (a ctl command, an attach, a change
//     made through another directory that shows the same table) is sent
//     to it at once, so what can be stale is st_blocks, which page faults
//     change without the server seeing them;
//   - a name that no segment or queue has: negativeTimeout, dropped when a
//     ctl IPC_CREAT makes it;
//   - a queue's name: 0, for each lookup of a queue's name must make an
//     inode of its own (msgdir.go). Queue attributes are cached, and
//     dropped from every inode of the queue when it changes.
//
// (fixedTimeout is in tenancy.go.)
const (
	objectTimeout   = time.Second
	negativeTimeout = time.Second
)

// afterReleases returns once the releases being served are done.
func (m *mountState) afterReleases() {
	m.releases.Lock()
	m.releases.Unlock()
}

// invalidator tells the kernel of changes to what it may have cached.
//
// Attributes are dropped by the request that changed them, before it
// answers (dropAttr): the kernel takes no lock to drop them, so the caller
// sees the change as soon as its call returns.
//
// A name can only be dropped under its directory's lock, which the kernel
// may hold while it waits for the very request being served: an unlink in
// the directory, or an unlink of ctl waiting for a ctl write to end. So
// names go from a goroutine, in the order they changed, and a ctl handle
// waits for them where waiting cannot deadlock: at the read of a command's
// result, and at close (ctl.go).
type invalidator struct {
	// mu protects the fields below.
	mu sync.Mutex
	// sentCond is broadcast when sent moves.
	sentCond sync.Cond
	// dirs are the directories that show each table (a *ShmTable or a
	// *MsgTable): one namespace may be reached by more than one path.
	dirs map[any][]*gofs.Inode
	// queue holds the name changes not yet sent; queued and sent count
	// the changes ever queued and sent. busy is set while a goroutine
	// sends.
	queue        []nameChange
	queued, sent uint64
	busy         bool
}

// nameChange is a name of dir that came or went.
type nameChange struct {
	dir  *gofs.Inode
	name string
	// gone: the name went, and the node the kernel has under it is
	// unlinked (its nlink cleared); otherwise it came, and a negative
	// entry goes.
	gone bool
}

func newInvalidator() *invalidator {
	v := &invalidator{dirs: make(map[any][]*gofs.Inode)}
	v.sentCond.L = &v.mu
	return v
}

// addDir records that dir shows table.
func (v *invalidator) addDir(table any, dir *gofs.Inode) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.dirs[table] = append(v.dirs[table], dir)
}

// removeDir forgets dir, which the kernel no longer has.
func (v *invalidator) removeDir(table any, dir *gofs.Inode) {
	v.mu.Lock()
	defer v.mu.Unlock()
	ds := v.dirs[table]
	for i, d := range ds {
		if d == dir {
			ds = append(ds[:i], ds[i+1:]...)
			break
		}
	}
	if len(ds) == 0 {
		delete(v.dirs, table)
	} else {
		v.dirs[table] = ds
	}
}

// nameCame drops the negative entries of name in the directories that
// show table, but for except, where the kernel made the name itself.
func (v *invalidator) nameCame(table any, name string, except *gofs.Inode) {
	v.change(table, name, false, except)
}

// nameGone drops the entries of name in the directories that show table,
// but for except, where the kernel removed the name itself.
func (v *invalidator) nameGone(table any, name string, except *gofs.Inode) {
	v.change(table, name, true, except)
}

func (v *invalidator) change(table any, name string, gone bool, except *gofs.Inode) {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := len(v.queue)
	for _, d := range v.dirs[table] {
		if d != except {
			v.queue = append(v.queue, nameChange{dir: d, name: name, gone: gone})
		}
	}
	if len(v.queue) == n {
		return
	}
	v.queued += uint64(len(v.queue) - n)
	if !v.busy {
		v.busy = true
		go v.send()
	}
}

// send sends the queued changes until there are none. The kernel answers
// ENOENT for a name or a node it does not have: nothing to drop.
func (v *invalidator) send() {
	v.mu.Lock()
	for len(v.queue) > 0 {
		c := v.queue[0]
		v.queue = v.queue[1:]
		v.mu.Unlock()
		c.send()
		v.mu.Lock()
		v.sent++
		v.sentCond.Broadcast()
	}
	v.queue = nil
	v.busy = false
	v.mu.Unlock()
}

func (c nameChange) send() {
	if c.gone {
		if ch := c.dir.GetChild(c.name); ch != nil {
			c.dir.NotifyDelete(c.name, ch)
			return
		}
	}
	c.dir.NotifyEntry(c.name)
}

// mark returns a ticket for what has been queued so far.
func (v *invalidator) mark() uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.queued
}

// wait returns once every change queued before ticket was made has been
// sent. It must not be called by a request that holds, in the kernel, a
// lock that a queued change needs: a directory's, or a segment's.
func (v *invalidator) wait(ticket uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for v.sent < ticket {
		v.sentCond.Wait()
	}
}

// nodes returns the nodes that the kernel has under name in the
// directories that show table: usually one, shared by all of them.
func (v *invalidator) nodes(table any, name string) []*gofs.Inode {
	v.mu.Lock()
	dirs := append([]*gofs.Inode(nil), v.dirs[table]...)
	v.mu.Unlock()
	var out []*gofs.Inode
	for _, d := range dirs {
		if ch := d.GetChild(name); ch != nil && !containsNode(out, ch) {
			out = append(out, ch)
		}
	}
	return out
}

func containsNode(ns []*gofs.Inode, n *gofs.Inode) bool {
	for _, x := range ns {
		if x == n {
			return true
		}
	}
	return false
}

// dropAttr makes the kernel forget the attributes of nodes; an offset of
// -1 leaves cached pages alone. The kernel takes no lock for it, so a
// request handler may call it before it answers.
func dropAttr(nodes ...*gofs.Inode) {
	for _, n := range nodes {
		n.NotifyContent(-1, 0)
	}
}
