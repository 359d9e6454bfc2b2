package fs

import "github.com/shmfs/shmfs/nsmodel"

// shm_rmid_forced under passthrough: there an attach can outlive its
// handle, held by a mapping that the server learns has gone only when it
// looks at the process's maps (mapwatch.go). With shm_rmid_forced set
// every last detach destroys its segment, so every held attach is
// settled as those of removed segments are: at its release, before a
// create, and before a listing or lookup of the table. The model tells
// the mount of each segment it destroyed without a request on its name
// (Model.Gone), and the mount has the kernel drop the name.

// setLimit writes limits/<name> of ns. Before shm_rmid_forced is set
// the attaches whose mappings have gone are ended, for the set destroys
// the orphaned segments that have none; after it, the kernel has dropped
// their names. m may be nil.
func (m *mountState) setLimit(ns *nsmodel.Namespace, c *nsmodel.Cred, name, text string) error {
	if name != "shm_rmid_forced" || m == nil {
		return ns.SetLimit(c, name, text)
	}
	m.settle()
	if err := ns.SetLimit(c, name, text); err != nil {
		return err
	}
	if ns.Shm.RmidForced() && m.held != nil {
		m.held.doom(ns.Shm)
	}
	// The names of the orphans it destroyed are gone before the write
	// returns. (No request waits for this one while holding a table
	// directory's lock, which dropping a name takes.)
	m.inval.wait(m.inval.mark())
	return nil
}

// doom marks every held attach of a segment of t as one whose end may
// destroy it. (Clearing shm_rmid_forced leaves the marks: they only
// make the attaches be settled sooner.)
func (w *heldMaps) doom(t *nsmodel.ShmTable) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range w.held {
		if h := &w.held[i]; h.t == t && !h.removed {
			h.removed = true
			w.removedN++
		}
	}
}

// goneHook is Model.Gone for a mount: the kernel drops the name of an
// object that went behind its back from every directory that shows the
// table.
func (m *mountState) goneHook(table any, name string) {
	m.inval.nameGone(table, name, nil)
}
