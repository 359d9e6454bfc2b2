package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

const selfName = "self"

// selfNode is MOUNT/self: a symbolic link to the namespace bound to the
// kernel IPC namespace of whoever reads it, as /proc/self is to the
// reader's pid. The kernel asks for the target at every path walk
// (go-fuse does not let it cache symlinks), and the walk then looks the
// namespace up by name, so the namespace a walk reaches is decided at
// that lookup and stays with every handle opened below it. A kernel
// namespace's first readlink makes its namespace (ipc-N).
type selfNode struct {
	gofs.Inode
	t *tenancy
}

var (
	_ = (gofs.NodeReadlinker)((*selfNode)(nil))
	_ = (gofs.NodeGetattrer)((*selfNode)(nil))
)

func (n *selfNode) fill(a *fuse.Attr) { fixedAttr(a, syscall.S_IFLNK|0o777) }

func (n *selfNode) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.fill(&out.Attr)
	return 0
}

// Readlink is ENOENT for a caller the server cannot place (pid 0: outside
// its pid namespace), as /proc/self is for a reader outside the pid
// namespace of that /proc.
func (n *selfNode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	ns := n.t.own(callerCred(ctx))
	if ns == nil {
		return nil, syscall.ENOENT
	}
	return []byte(ns.Name), 0
}
