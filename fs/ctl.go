package fs

import (
	"context"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/shmfs/shmfs/nsmodel"
)

// ctlExec runs one parsed command for a caller and returns the line that a
// read of the same handle gives back.
type ctlExec func(c *nsmodel.Cred, cmd *ctlCmd) (string, error)

// ctlNode is a table's ctl file: Plan 9 style control by short text
// commands, one per write. Anyone may write; each command checks the
// caller's rights as the matching *ctl system call does.
type ctlNode struct {
	gofs.Inode
	exec ctlExec
	// m is the mount, whose name invalidations a command's result and
	// the close wait for; if nil, the root's.
	m *mountState
}

var (
	_ = (gofs.NodeOpener)((*ctlNode)(nil))
	_ = (gofs.NodeGetattrer)((*ctlNode)(nil))
	_ = (gofs.NodeSetattrer)((*ctlNode)(nil))
)

func (n *ctlNode) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	fixedAttr(&out.Attr, syscall.S_IFREG|0o666)
	out.SetTimeout(fixedTimeout)
	return 0
}

// Setattr accepts the truncation of `echo CMD > ctl`, which anyone may
// write, and refuses the rest as /proc/sys does (fixedSetattr).
func (n *ctlNode) Setattr(ctx context.Context, f gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if e := fixedSetattr(callerCred(ctx), in, 0o666, false); e != 0 {
		return e
	}
	return n.Getattr(ctx, f, out)
}

func (n *ctlNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	return &ctlHandle{exec: n.exec, m: n.mount()}, fuse.FOPEN_DIRECT_IO, 0
}

func (n *ctlNode) mount() *mountState {
	if n.m != nil {
		return n.m
	}
	if r, ok := n.Root().Operations().(*rootNode); ok {
		return r.m
	}
	return nil
}

// ctlHandle runs commands and keeps the result of the last one.
type ctlHandle struct {
	exec ctlExec
	// m, if set, is the mount: commands wait for the releases it is
	// serving, results and closes for the names commands dropped.
	m *mountState

	// mu protects last, base and ticket.
	mu   sync.Mutex
	last []byte
	// base is the file offset just past the last command written: a
	// read(2) that follows the write(2) on the same descriptor reads the
	// result from there, as pread at offset 0 does.
	base int64
	// ticket marks the names the last command dropped from the
	// kernel's cache (cache.go).
	ticket uint64
}

var (
	_ = (gofs.FileReader)((*ctlHandle)(nil))
	_ = (gofs.FileWriter)((*ctlHandle)(nil))
	_ = (gofs.FileFlusher)((*ctlHandle)(nil))
)

// Flush, at every close, returns once the names that the handle's
// commands made or removed are dropped from the kernel's cache, so that
// `echo IPC_RMID 0x1 > ctl; ls` never lists the name. The write itself
// cannot wait for that: it holds the ctl file's lock, and an unlink of
// ctl holds the directory's lock that a name needs while it waits for
// the ctl file's. Every other file of the mount is opened with
// FOPEN_NOFLUSH, so no ENOSYS turns flushes off.
func (h *ctlHandle) Flush(ctx context.Context) syscall.Errno {
	h.settled()
	return 0
}

// settled waits until the kernel's cache has dropped the names that the
// last command changed.
func (h *ctlHandle) settled() {
	if h.m == nil {
		return
	}
	h.mu.Lock()
	ticket := h.ticket
	h.mu.Unlock()
	h.m.inval.wait(ticket)
}

func (h *ctlHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	res, err := h.run(ctx, data)
	if err != nil {
		// The reason is what the handle reads back, from the offset
		// the failed write left unmoved.
		logRefusal("ctl", data, err)
		h.mu.Lock()
		h.last = []byte(reasonLine(err))
		h.base = off
		h.mu.Unlock()
		return 0, errno(err)
	}
	h.mu.Lock()
	h.last = []byte(res)
	h.base = off + int64(len(data))
	if h.m != nil {
		h.ticket = h.m.inval.mark()
	}
	h.mu.Unlock()
	return uint32(len(data)), 0
}

// run parses and runs one command.
func (h *ctlHandle) run(ctx context.Context, data []byte) (string, error) {
	cmd, err := parseCtl(data)
	if err != nil {
		return "", err
	}
	if h.m != nil {
		// A close made before this write is seen by the command.
		h.m.afterReleases()
	}
	return h.exec(callerCred(ctx), cmd)
}

// Read gives the result of the last command, once what it changed is
// seen by every process.
func (h *ctlHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h.settled()
	h.mu.Lock()
	defer h.mu.Unlock()
	if off >= h.base {
		off -= h.base
	}
	if off >= int64(len(h.last)) {
		return fuse.ReadResultData(nil), 0
	}
	return fuse.ReadResultData(append([]byte(nil), h.last[off:min(off+int64(len(dest)), int64(len(h.last)))]...)), 0
}
