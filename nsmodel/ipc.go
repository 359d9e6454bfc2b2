package nsmodel

import "golang.org/x/sys/unix"

// This file is the one path that the three kinds share, as ipc/util.c
// serves shm, msg and sem with ipcget(ns, ids, ops, params): the table
// (ids) of each kind carries its ipc_ops, and everything the kinds do
// alike — *get, lookup by key or id, the checks of IPC_RMID and
// IPC_SET, IPC_STAT, the listings — is written here once. A kind supplies
// only what differs, in its ipcOps, and adds what it alone has (shm's
// attach and truncate, msg's send and receive, sem's semop) in its own
// files. A second implementation of a namespace plugs in at the same
// seam: an ipcOps whose functions make the real system calls.

// ipcParams is struct ipc_params: what ipcget takes from a *get request.
type ipcParams struct {
	key    int32
	create bool // IPC_CREAT
	excl   bool // IPC_EXCL
	// flg is what ipcperms checks an existing object for in a *get:
	// the permission bits of its flag.
	flg uint32
	// access is what an open(2) of the object's file checks an
	// existing object for: the open's access mode.
	access uint32
}

// ipcRequest is a *get request: ShmGet, MsgGet or SemGet.
type ipcRequest interface{ params() ipcParams }

// ipcOps is struct ipc_ops, with the kind's part of IPC_RMID, IPC_SET
// and IPC_STAT beside getnew and more_checks. Each function is called
// with the table's mu held. (associate, the security hook, has nothing
// to do in shmfs.)
type ipcOps[O Object, R ipcRequest, S any] struct {
	// args checks the request before ipcget, as ksys_semget checks
	// nsems (nil for shm and msg). It is called without the lock.
	args func(req R) error
	// getnew is newseg, newque, newary: make the object of a request
	// whose key names none.
	getnew func(c *Cred, req R) (O, error)
	// moreChecks is shm_more_checks, sem_more_checks (nil for msg):
	// what an existing object must satisfy besides ipcperms, asked
	// before it.
	moreChecks func(o O, req R) error
	// rmid is do_shm_rmid, freeque, freeary: IPC_RMID once the caller
	// may.
	rmid func(o O)
	// update is the kind's part of IPC_SET once the caller may: its own
	// fields, ipc_update_perm (Perm.apply), the change time.
	update func(c *Cred, o O, a SetAttr) error
	// stat snapshots o, as IPC_STAT and /proc/sysvipc see it.
	stat func(o O) S
}

// ids is struct ipc_ids with its kind's ipc_ops: the id table of one kind
// in one namespace. ShmTable, MsgTable and SemTable embed it, so the
// three have one method shape: Get, Lookup, Access, Remove, Set, Stat,
// List and Stats, on the table, taking the object.
type ids[O Object, R ipcRequest, S any] struct {
	Registry
	ns  *Namespace
	ops ipcOps[O, R, S]
}

// setup makes the table of a namespace, with its kind's ops.
func (t *ids[O, R, S]) setup(ns *Namespace, ops ipcOps[O, R, S]) {
	t.ns, t.ops = ns, ops
	t.init()
}

// Get is the *get system call (ipcget): it finds the object of req's key,
// or makes one.
func (t *ids[O, R, S]) Get(c *Cred, req R) (O, error) {
	return t.get(c, req, req.params().flg)
}

// Open is what open(2) of an object's name does: the *get of the
// request, with an existing object checked for the open's access mode
// rather than the bits of a flag. An object the call creates is opened
// whatever its mode, as a file that open creates is. (ShmTable.Open
// attaches too.)
func (t *ids[O, R, S]) Open(c *Cred, req R) (O, error) {
	return t.get(c, req, req.params().access)
}

// get is Get and Open: the request's arguments, then ipcget under the
// lock.
func (t *ids[O, R, S]) get(c *Cred, req R, flg uint32) (O, error) {
	if t.ops.args != nil {
		if err := t.ops.args(req); err != nil {
			var none O
			return none, err
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ipcget(c, req, flg)
}

// ipcget is ipcget: IPC_PRIVATE always makes a new object (ipcget_new),
// any other key goes through ipcget_public. flg is what an existing
// object is checked for. t.mu is held.
func (t *ids[O, R, S]) ipcget(c *Cred, req R, flg uint32) (O, error) {
	p := req.params()
	if p.key == IPCPrivate {
		return t.ops.getnew(c, req)
	}
	return t.ipcgetPublic(c, req, p, flg)
}

// ipcgetPublic is ipcget_public, in its order: a key that names nothing
// is ENOENT without IPC_CREAT, else a new object; one that names an
// object is EEXIST under IPC_CREAT|IPC_EXCL, then more_checks (EINVAL),
// then ipcperms (EACCES). t.mu is held.
func (t *ids[O, R, S]) ipcgetPublic(c *Cred, req R, p ipcParams, flg uint32) (O, error) {
	var none O
	found := t.findKey(p.key)
	if found == nil {
		if !p.create {
			return none, unix.ENOENT
		}
		return t.ops.getnew(c, req)
	}
	o := found.(O)
	if p.create && p.excl {
		return none, unix.EEXIST
	}
	if t.ops.moreChecks != nil {
		if err := t.ops.moreChecks(o, req); err != nil {
			return none, err
		}
	}
	if err := o.IPCPerm().Check(c, flg); err != nil { // ipc_check_perms
		return none, err
	}
	return o, nil
}

// Lookup finds an object by key or id (Ref): an unknown key is ENOENT,
// an unknown id EINVAL. An object that lost its key (a segment marked
// SHM_DEST) is found by id only, as the kernel finds it.
func (t *ids[O, R, S]) Lookup(ref Ref) (O, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	o, err := t.find(ref)
	if err != nil {
		var none O
		return none, err
	}
	return o.(O), nil
}

// Access is the check an open of the object's file makes: EIDRM once the
// object is removed, else ipcperms for access. The handle then keeps the
// rights it was opened with, as any open file does; the kernel repeats
// the check on every operation instead.
func (t *ids[O, R, S]) Access(c *Cred, o O, access uint32) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := o.IPCPerm()
	if p.Deleted {
		return unix.EIDRM
	}
	return p.Check(c, access)
}

// Remove is IPC_RMID: EIDRM once the object is removed, then the owner,
// the creator or CAP_SYS_ADMIN may (EPERM); then the kind's rmid.
func (t *ids[O, R, S]) Remove(c *Cred, o O) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := o.IPCPerm().checkDown(c); err != nil {
		return err
	}
	t.ops.rmid(o)
	return nil
}

// Set is IPC_SET: EIDRM once the object is removed, then the owner, the
// creator or CAP_SYS_ADMIN may (EPERM) change uid, gid and the permission
// bits, and what else the kind's update takes.
func (t *ids[O, R, S]) Set(c *Cred, o O, a SetAttr) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := o.IPCPerm().checkDown(c); err != nil {
		return err
	}
	return t.ops.update(c, o, a)
}

// Stat is IPC_STAT, without the permission check: the file system shows
// it to whoever may see the name.
func (t *ids[O, R, S]) Stat(o O) S {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ops.stat(o)
}

// List returns the objects that have a name in the table, in id order:
// all but segments removed and waiting for their last detach (SHM_DEST,
// a bit no other kind sets).
func (t *ids[O, R, S]) List() []O {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []O
	for _, o := range t.sorted() {
		if o.IPCPerm().Mode&ShmDest == 0 {
			out = append(out, o.(O))
		}
	}
	return out
}

// Stats returns a snapshot of every object in the table, in id order,
// as /proc/sysvipc lists them (removed segments still attached
// included).
func (t *ids[O, R, S]) Stats() []S {
	return collect(&t.Registry, t.ops.stat)
}
