package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// textNode is a read-only file whose text is made when it is opened, as a
// /proc file is: sysvipc/shm, msg and sem.
type textNode struct {
	gofs.Inode
	render func() string
}

var (
	_ = (gofs.NodeOpener)((*textNode)(nil))
	_ = (gofs.NodeGetattrer)((*textNode)(nil))
	_ = (gofs.NodeSetattrer)((*textNode)(nil))
)

func (n *textNode) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	fixedAttr(&out.Attr, syscall.S_IFREG|0o444)
	out.SetTimeout(fixedTimeout)
	return 0
}

// Setattr refuses as /proc/sysvipc does: a table is read-only to all
// but root, whose truncation and times change nothing.
func (n *textNode) Setattr(ctx context.Context, f gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if e := fixedSetattr(callerCred(ctx), in, 0o444, false); e != 0 {
		return e
	}
	return n.Getattr(ctx, f, out)
}

func (n *textNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		return nil, 0, syscall.EACCES
	}
	return &textHandle{text: []byte(n.render())}, textOpenFlags, 0
}

// textOpenFlags: every read comes to the server, and a close costs no
// round trip.
const textOpenFlags = fuse.FOPEN_DIRECT_IO | fuse.FOPEN_NOFLUSH

// textHandle holds the text as it was at open, so that reads at any
// offset see one consistent table.
type textHandle struct{ text []byte }

var _ = (gofs.FileReader)((*textHandle)(nil))

func (h *textHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if off >= int64(len(h.text)) {
		return fuse.ReadResultData(nil), 0
	}
	end := min(off+int64(len(dest)), int64(len(h.text)))
	return fuse.ReadResultData(h.text[off:end]), 0
}
