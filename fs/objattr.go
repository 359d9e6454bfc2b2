package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/shmfs/shmfs/nsmodel"
)

// objectFile is what an object's file (a segment, a queue, a set) gives
// the one Setattr that all three share; each kind supplies only what
// differs, as ipc_ops does for ipcget.
type objectFile interface {
	// checkTimes is what the VFS asks of a utimensat (Perm.CheckTimes).
	checkTimes(c *nsmodel.Cred, now bool) error
	// resize is a truncation; byPath says that no open handle carries
	// the caller's write permission, so it must be checked.
	resize(c *nsmodel.Cred, size uint64, byPath bool) error
	// ipcSet is IPC_SET; the kind drops what other inodes cached.
	ipcSet(c *nsmodel.Cred, a nsmodel.SetAttr) error
	// fill renders the object as a stat.
	fill(a *fuse.Attr)
}

// setattrObject is the Setattr of every object's file, in the order the
// VFS checks a setattr: the times (as on any file, changing nothing),
// then the size, then chmod and chown as one IPC_SET.
func setattrObject(ctx context.Context, n objectFile, f gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	c := callerCred(ctx)
	if set, now := setsTimes(in); set {
		if err := n.checkTimes(c, now); err != nil {
			return errno(err)
		}
	}
	if size, ok := in.GetSize(); ok {
		if err := n.resize(c, size, f == nil); err != nil {
			return errno(err)
		}
	}
	if a, ok := ipcSetOf(in); ok {
		if err := n.ipcSet(c, a); err != nil {
			return errno(err)
		}
	}
	n.fill(&out.Attr)
	out.SetTimeout(objectTimeout)
	return 0
}

// fixedSize is the resize of a file that has no size to set (a queue, a
// set): a truncation to 0, as `>` sends, changes nothing, but asks for
// write permission as truncate(2) does of any file; any other size is
// EINVAL.
func fixedSize(size uint64, byPath bool, access func() error) error {
	if size != 0 {
		return syscall.EINVAL
	}
	if byPath {
		return access()
	}
	return nil
}

// setsTimes reports whether a setattr sets atime or mtime, and whether
// every time it sets is "now" (utimensat with no times, or UTIME_NOW).
func setsTimes(in *fuse.SetAttrIn) (set, now bool) {
	v := in.Valid
	set = v&(fuse.FATTR_ATIME|fuse.FATTR_MTIME) != 0
	now = (v&fuse.FATTR_ATIME == 0 || v&fuse.FATTR_ATIME_NOW != 0) &&
		(v&fuse.FATTR_MTIME == 0 || v&fuse.FATTR_MTIME_NOW != 0)
	return set, now
}

// ipcSetOf takes the chmod and chown of a setattr as an IPC_SET; ok
// tells whether it has either.
func ipcSetOf(in *fuse.SetAttrIn) (a nsmodel.SetAttr, ok bool) {
	if m, ok := in.GetMode(); ok {
		m &= nsmodel.ModePerm
		a.Mode = &m
	}
	if uid, ok := in.GetUID(); ok {
		a.UID = &uid
	}
	if gid, ok := in.GetGID(); ok {
		a.GID = &gid
	}
	return a, a.Mode != nil || a.UID != nil || a.GID != nil
}
