package nsmodel

import "golang.org/x/sys/unix"

// Key values and flags of the System V interface (linux/ipc.h, linux/shm.h).
const (
	IPCPrivate int32 = 0

	// Mode bits kept above the nine permission bits. (newseg keeps only
	// the nine bits of shmflg, so SHM_HUGETLB never shows in a mode.)
	ModePerm  = 0o777
	ShmDest   = 0o1000 // SHM_DEST: removed, destroyed at last detach
	ShmLocked = 0o2000 // SHM_LOCKED: pages pinned by SHM_LOCK

	// Access bits as ipcperms takes them.
	AccessRead  = 0o444
	AccessWrite = 0o222
)

// Perm is struct kern_ipc_perm: the identity and access rights every IPC
// object carries. It is protected by the lock of the table that holds the
// object.
type Perm struct {
	Key  int32
	ID   int32
	UID  uint32
	GID  uint32
	CUID uint32
	CGID uint32
	Mode uint32
	seq  int32

	// Deleted is set by IPC_RMID; the object is then unreachable by key or
	// id, and any operation on a handle still open to it gets EIDRM.
	Deleted bool
}

func newPerm(key int32, mode uint32, c *Cred) Perm {
	return Perm{Key: key, UID: c.UID, GID: c.GID, CUID: c.UID, CGID: c.GID, Mode: mode & ModePerm}
}

// Check is ipcperms: access is the requested bits (AccessRead,
// AccessWrite, both, or the low nine bits of a *get flag); a bit asked of
// any class is asked of the caller's class. It returns EACCES when one is
// not granted to that class and the caller lacks CAP_IPC_OWNER.
func (p *Perm) Check(c *Cred, access uint32) error {
	requested := (access >> 6) | (access >> 3) | access
	granted := p.Mode
	if c.UID == p.CUID || c.UID == p.UID {
		granted >>= 6
	} else if c.InGroup(p.CGID) || c.InGroup(p.GID) {
		granted >>= 3
	}
	if requested&^granted&0o7 != 0 && !c.Capable(CapIPCOwner) {
		return unix.EACCES
	}
	return nil
}

// CheckOwner is the test of ipcctl_obtain_check for IPC_SET and IPC_RMID:
// the owner, the creator, or CAP_SYS_ADMIN.
func (p *Perm) CheckOwner(c *Cred) error {
	if c.UID == p.CUID || c.UID == p.UID || c.Capable(CapSysAdmin) {
		return nil
	}
	return unix.EPERM
}

// checkDown is what IPC_SET and IPC_RMID (the kernel's *ctl_down) ask
// of the object they found: EIDRM once it is removed, then CheckOwner.
func (p *Perm) checkDown(c *Cred) error {
	if p.Deleted {
		return unix.EIDRM
	}
	return p.CheckOwner(c)
}

// CheckTimes is what the VFS asks of utimensat on any file
// (setattr_prepare, notify_change), which the file of an object must ask
// too: explicit times are the owner's to set (EPERM), times set to now
// also anyone's who may write (EACCES); CAP_FOWNER passes both.
func (p *Perm) CheckTimes(c *Cred, now bool) error {
	if c.UID == p.UID || c.Capable(CapFowner) {
		return nil
	}
	if !now {
		return unix.EPERM
	}
	return p.Check(c, AccessWrite)
}

// SetAttr holds the fields of an IPC_SET; a nil field is left as it is.
type SetAttr struct {
	UID    *uint32
	GID    *uint32
	Mode   *uint32
	QBytes *uint64 // message queues only
}

// apply is ipc_update_perm: a uid or gid that maps to no user (-1, the
// only one in the initial user namespace) is EINVAL and changes nothing;
// only the nine permission bits of the mode are taken from the request.
func (p *Perm) apply(a SetAttr) error {
	if (a.UID != nil && *a.UID == ^uint32(0)) || (a.GID != nil && *a.GID == ^uint32(0)) {
		return unix.EINVAL
	}
	if a.UID != nil {
		p.UID = *a.UID
	}
	if a.GID != nil {
		p.GID = *a.GID
	}
	if a.Mode != nil {
		p.Mode = p.Mode&^ModePerm | *a.Mode&ModePerm
	}
	return nil
}
