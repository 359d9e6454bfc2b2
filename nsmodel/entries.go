package nsmodel

// Entry is one name of an id table as a directory listing shows it,
// copied under the table's lock.
type Entry struct {
	// Name is the file name: the key as 0x%08x, or private.<id>.
	Name string
	// Serial is the object's serial (Object.Serial).
	Serial uint64
}

// Entries lists the names of the table's objects in id order, read under
// the table's lock: a listing must not read a live object's Perm once the
// lock is dropped, since IPC_RMID rewrites its key (forgetKey). Objects
// that were removed and wait for their last detach (SHM_DEST) have no
// name and are left out.
func (r *Registry) Entries() []Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Entry, 0, r.inUse)
	for _, o := range r.slots {
		if o == nil {
			continue
		}
		p := o.IPCPerm()
		if p.Deleted || p.Mode&ShmDest != 0 {
			continue
		}
		out = append(out, Entry{Name: EntryName(p), Serial: o.Serial()})
	}
	return out
}
