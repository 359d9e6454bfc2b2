package fs

import (
	"sync"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/shmfs/shmfs/nsmodel"
)

// fixedTimeout is how long the kernel may keep entries and attributes
// that change only by mkdir and rmdir on this mount (which the kernel
// sees) or by the end of a tenant (which tenancy tells it of): the
// namespace directories and their fixed children.
const fixedTimeout = time.Hour

// reapInterval is how often the kernel namespaces that have a binding
// are looked for in /proc, to end the namespaces of those that ended.
const reapInterval = 2 * time.Second

// tenancy is how one mount places its callers: which namespace a
// caller's kernel IPC namespace is bound to, what it may see, and the
// end of bound namespaces whose kernel namespace has ended.
type tenancy struct {
	m     *mountState
	model *nsmodel.Model
	// isolate shows a caller that is not an administrator only its own
	// namespace.
	isolate bool
	// root is MOUNT/, for telling the kernel of names that went; set
	// before the server serves.
	root *gofs.Inode

	// reapMu serializes reaps.
	reapMu sync.Mutex
	stop   chan struct{}
	// stopOnce guards close(stop).
	stopOnce sync.Once
}

func newTenancy(m *mountState, isolate bool) *tenancy {
	if isolate {
		m.model.SetQuotas()
	}
	return &tenancy{m: m, model: m.model, isolate: isolate, stop: make(chan struct{})}
}

// sees reports whether caller c may reach namespace ns: always without
// isolation; with it, when ns is bound to c's kernel IPC namespace or c
// is an administrator. A caller the server cannot place (pid 0: outside
// its pid namespace) sees nothing.
func (t *tenancy) sees(c *nsmodel.Cred, ns *nsmodel.Namespace) bool {
	if !t.isolate {
		return true
	}
	k, err := nsmodel.KernelNSOf(c.PID)
	if err != nil {
		return false
	}
	if t.model.Bound(k) == ns {
		return true
	}
	return t.model.IsAdminIn(c, k)
}

// own is the namespace bound to c's kernel IPC namespace, made on first
// use; nil when c cannot be placed.
func (t *tenancy) own(c *nsmodel.Cred) *nsmodel.Namespace {
	ns, created, err := t.model.NamespaceOf(c.PID, true)
	if err != nil {
		return nil
	}
	if created && t.root != nil {
		// The kernel may hold a negative entry for the new name.
		go t.root.NotifyEntry(ns.Name)
	}
	return ns
}

// topEntry sets the timeouts of a namespace's entry at the top, which
// only mkdir, rmdir and reap change. With isolation it is 0: whether the
// name leads anywhere depends on who asks, so the kernel must ask every
// time (a name it kept for root would otherwise serve a tenant).
func (t *tenancy) topEntry(out *fuse.EntryOut) {
	if !t.isolate {
		out.SetEntryTimeout(fixedTimeout)
		out.SetAttrTimeout(fixedTimeout)
	}
}

// fixedEntry sets the entry timeout of a child made with its namespace.
// Below the top a name means the same to every caller, so even with
// isolation the kernel may keep it: who may use the node is checked at
// each request on it (isolatedFS), not at the lookup of its name.
func (t *tenancy) fixedEntry(out *fuse.EntryOut) {
	out.SetEntryTimeout(fixedTimeout)
}

// fixedAttrs sets the attribute timeout of a directory whose attributes
// never change.
func (t *tenancy) fixedAttrs(out *fuse.AttrOut) {
	if !t.isolate {
		out.SetTimeout(fixedTimeout)
	}
}

// start begins watching bound kernel namespaces, until the unmount.
func (t *tenancy) start() {
	go func() {
		tick := time.NewTicker(reapInterval)
		defer tick.Stop()
		for {
			select {
			case <-t.stop:
				return
			case <-tick.C:
				t.reap()
			}
		}
	}()
}

func (t *tenancy) unmounted() { t.stopOnce.Do(func() { close(t.stop) }) }

// reap ends the namespaces bound to kernel namespaces that no process is
// in any more, and tells the kernel of the names that went before it
// returns. It takes the root's lock in the kernel (to drop the entries),
// so it must not run inside a request that holds it: not in a READDIR
// or LOOKUP on the root; an OPENDIR holds none.
func (t *tenancy) reap() {
	t.reapMu.Lock()
	defer t.reapMu.Unlock()
	watched := t.model.Watched()
	if len(watched) == 0 {
		return
	}
	want := make(map[nsmodel.KernelNS]bool, len(watched))
	for _, k := range watched {
		want[k] = true
	}
	live, err := nsmodel.LiveKernelNS(want)
	if err != nil {
		return
	}
	var gone []string
	for _, k := range watched {
		if live[k] {
			continue
		}
		// Attaches whose mapping went are detached first, so that
		// their segments go now rather than wait for a detach.
		t.m.settle()
		ns, removed, objs := t.model.End(k)
		if removed {
			gone = append(gone, ns.Name)
		}
		for _, o := range objs {
			// As IPC_RMID through a ctl file: the name goes at once
			// from every directory that shows the table.
			dropAttr(t.m.inval.nodes(o.Table, o.Name)...)
			t.m.inval.nameGone(o.Table, o.Name, nil)
		}
	}
	if t.root != nil {
		t.forget(gone)
	}
}

// forget drops the kernel's entries of namespaces that went.
func (t *tenancy) forget(names []string) {
	for _, name := range names {
		if ch := t.root.GetChild(name); ch != nil {
			t.root.RmChild(name)
			t.root.NotifyDelete(name, ch)
		} else {
			t.root.NotifyEntry(name)
		}
	}
}
