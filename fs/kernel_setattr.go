package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/internal/kernelipc"
)

// Attribute changes below kernel/ are refused as the VFS and /proc
// refuse them, and change nothing where they are let through: the
// kernel keeps the objects' times itself.

// kernelTimes decides a setattr of times on a file owned by uid whose
// mode grants the caller write access (writable), as setattr_prepare
// does: explicit times need the owner or CAP_FOWNER (EPERM); "now" also
// a writer (EACCES).
func kernelTimes(c *kernelipc.Cred, in *fuse.SetAttrIn, uid uint32, writable bool) syscall.Errno {
	set, now := setsTimes(in)
	if !set || c.UID == uid || c.Caps&(1<<unix.CAP_FOWNER) != 0 {
		return 0
	}
	if now {
		if writable {
			return 0
		}
		return syscall.EACCES
	}
	return syscall.EPERM
}

// kernelDirSetattr is a setattr of a directory below kernel/, all root's
// and fixed, as /proc/sysvipc is: mode, owner and size are EPERM, times
// as kernelTimes says (and changed not at all).
func kernelDirSetattr(ctx context.Context, in *fuse.SetAttrIn) syscall.Errno {
	if in.Valid&(fuse.FATTR_MODE|fuse.FATTR_UID|fuse.FATTR_GID|fuse.FATTR_SIZE) != 0 {
		return syscall.EPERM
	}
	return kernelTimes(kcred(ctx), in, 0, false)
}

var (
	_ = (gofs.NodeSetattrer)((*kernelDir)(nil))
	_ = (gofs.NodeSetattrer)((*kernelNSDir)(nil))
	_ = (gofs.NodeSetattrer)((*kernelTable)(nil))
)

func (d *kernelDir) Setattr(ctx context.Context, f gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if e := kernelDirSetattr(ctx, in); e != 0 {
		return e
	}
	return d.Getattr(ctx, f, out)
}

func (d *kernelNSDir) Setattr(ctx context.Context, f gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if e := kernelDirSetattr(ctx, in); e != 0 {
		return e
	}
	return d.Getattr(ctx, f, out)
}

func (d *kernelTable) Setattr(ctx context.Context, f gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if e := kernelDirSetattr(ctx, in); e != 0 {
		return e
	}
	return d.Getattr(ctx, f, out)
}

// writableBy reports whether mode grants c write access as ipcperms
// reads it (owner, then group including the supplementary ones, then
// other).
func writableBy(c *kernelipc.Cred, o *kObj) bool {
	m := o.mode
	switch {
	case c.UID == o.uid:
		m >>= 6
	case c.GID == o.gid || containsGID(c.Groups, o.gid):
		m >>= 3
	}
	return m&0o2 != 0
}

func containsGID(gs []uint32, g uint32) bool {
	for _, x := range gs {
		if x == g {
			return true
		}
	}
	return false
}

// Nothing can be made in kernel/, a namespace's directory, sysvipc/ or
// limits/: as in /proc, whose directories these mirror, a new name is
// ENOENT (go-fuse would say EROFS or ENOTSUP).
var (
	_ = (gofs.NodeCreater)((*kernelDir)(nil))
	_ = (gofs.NodeMkdirer)((*kernelDir)(nil))
	_ = (gofs.NodeSymlinker)((*kernelDir)(nil))
	_ = (gofs.NodeCreater)((*kernelNSDir)(nil))
	_ = (gofs.NodeMkdirer)((*kernelNSDir)(nil))
	_ = (gofs.NodeSymlinker)((*kernelNSDir)(nil))
)

func (d *kernelDir) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.ENOENT
}

func (d *kernelDir) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.ENOENT
}

func (d *kernelDir) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.ENOENT
}

func (d *kernelNSDir) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.ENOENT
}

func (d *kernelNSDir) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.ENOENT
}

func (d *kernelNSDir) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.ENOENT
}
