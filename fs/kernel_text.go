package fs

import (
	"context"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/shmfs/shmfs/internal/kernelipc"
	"github.com/shmfs/shmfs/nsmodel"
)

// kernelText is sysvipc/<kind> or limits/<name> of a kernel namespace:
// the namespace's own /proc file, read (and, for a limit, written) by a
// serving thread inside it with the caller's credentials.
type kernelText struct {
	gofs.Inode
	k       *kernelTree
	id      kernelipc.NSID
	sysvipc string
	limit   string
	// info is the kind (kindShm...) of <kind>/info, with info set
	// (kernel_info.go).
	info   int
	isInfo bool
}

var (
	_ = (gofs.NodeOpener)((*kernelText)(nil))
	_ = (gofs.NodeGetattrer)((*kernelText)(nil))
	_ = (gofs.NodeSetattrer)((*kernelText)(nil))
)

func (n *kernelText) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	mode := uint32(0o444)
	if n.limit != "" {
		// As /proc/sys/kernel/* shows them (the *_next_id files 0444).
		mode = nsmodel.LimitMode(n.limit)
	}
	fixedAttr(&out.Attr, syscall.S_IFREG|mode)
	return 0
}

// Setattr takes the truncation of `echo N > limits/shmmni` and nothing
// else, as /proc/sys does (proc_sys_setattr refuses mode and owner).
func (n *kernelText) Setattr(ctx context.Context, f gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if in.Valid&(fuse.FATTR_MODE|fuse.FATTR_UID|fuse.FATTR_GID) != 0 {
		return syscall.EPERM
	}
	// Root owns them; a limit is writable by whom the kernel lets open
	// it for writing.
	c := kcred(ctx)
	writable := false
	if n.limit != "" && c.UID != 0 {
		if ns, err := n.k.namespace(n.id); err == nil {
			writable = ns.CheckLimit(c, n.limit, true) == nil
		}
	}
	if e := kernelTimes(c, in, 0, writable); e != 0 {
		return e
	}
	if _, ok := in.GetSize(); ok {
		// The truncation of open(O_TRUNC) comes without the handle
		// (FUSE sends no file for it): the opener's right to write is
		// asked again.
		if n.limit == "" {
			return syscall.EACCES
		}
		ns, err := n.k.namespace(n.id)
		if err != nil {
			return errno(err)
		}
		if err := ns.CheckLimit(kcred(ctx), n.limit, true); err != nil {
			return errno(err)
		}
	}
	return n.Getattr(ctx, f, out)
}

func (n *kernelText) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	ns, err := n.k.namespace(n.id)
	if err != nil {
		return nil, 0, errno(err)
	}
	c := kcred(ctx)
	write := flags&syscall.O_ACCMODE != syscall.O_RDONLY
	if n.isInfo {
		return n.openInfo(ns, c, write)
	}
	if n.sysvipc != "" {
		if write {
			return nil, 0, syscall.EACCES
		}
		b, err := ns.Sysvipc(c, n.sysvipc)
		if err != nil {
			return nil, 0, errno(err)
		}
		return &textHandle{text: b}, textOpenFlags, 0
	}
	if err := ns.CheckLimit(c, n.limit, write); err != nil {
		return nil, 0, errno(err)
	}
	h := &kernelLimitHandle{ns: ns, c: c, name: n.limit}
	if flags&syscall.O_ACCMODE != syscall.O_WRONLY {
		b, err := ns.ReadLimit(c, n.limit)
		if err != nil {
			return nil, 0, errno(err)
		}
		h.text = b
	}
	return h, textOpenFlags, 0
}

// kernelLimitHandle is an open limit file: reads show the value as it was
// at open; a write at offset 0 is one write(2) to the namespace's
// /proc/sys/kernel/<name>, one at another offset is taken and ignored,
// as /proc/sys does under sysctl_writes_strict.
type kernelLimitHandle struct {
	ns   *kernelipc.Namespace
	c    *kernelipc.Cred
	name string
	mu   sync.Mutex
	text []byte
}

var (
	_ = (gofs.FileReader)((*kernelLimitHandle)(nil))
	_ = (gofs.FileWriter)((*kernelLimitHandle)(nil))
)

func (h *kernelLimitHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if off >= int64(len(h.text)) {
		return fuse.ReadResultData(nil), 0
	}
	return fuse.ReadResultData(h.text[off:min(off+int64(len(dest)), int64(len(h.text)))]), 0
}

func (h *kernelLimitHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if off != 0 {
		return uint32(len(data)), 0
	}
	if err := h.ns.WriteLimit(h.c, h.name, data); err != nil {
		return 0, errno(err)
	}
	return uint32(len(data)), 0
}
