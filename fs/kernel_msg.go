package fs

import (
	"context"
	"encoding/binary"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/shmfs/shmfs/internal/kernelipc"
	"github.com/shmfs/shmfs/nsmodel"
)

// openQueue opens a kernel queue under one of its names (msgname.go):
// each write is one msgsnd, each read one msgrcv (or, with MSG_COPY, a
// copy of the next message, which leaves the queue as it was), made by
// the kernel for the caller.
func (n *kernelObj) openQueue(ctx context.Context, ns *kernelipc.Namespace, c *kernelipc.Cred, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if err := n.checkOpen(ns, c, openAccess(flags)); err != nil {
		return nil, 0, errno(err)
	}
	h := &kernelQueueHandle{ns: ns, id: n.id, view: n.view, appending: flags&syscall.O_APPEND != 0,
		openedNonblock: flags&syscall.O_NONBLOCK != 0, copyNext: n.view.typ}
	return h, msgOpenFlags, 0
}

// kernelQueueHandle is an open kernel queue.
type kernelQueueHandle struct {
	ns             *kernelipc.Namespace
	id             int
	view           msgView
	appending      bool
	openedNonblock bool

	// copyMu protects copyNext, the position of the next MSG_COPY read.
	copyMu   sync.Mutex
	copyNext int64
}

var (
	_ = (gofs.FileReader)((*kernelQueueHandle)(nil))
	_ = (gofs.FileWriter)((*kernelQueueHandle)(nil))
	_ = (gofs.FileFlusher)((*kernelQueueHandle)(nil))
)

func (h *kernelQueueHandle) nowait(ctx context.Context) int {
	if nonblocking(ctx, h.openedNonblock) {
		return nsmodel.IPCNoWait
	}
	return 0
}

// Read is msgrcv(msgsz = the read's size less the mtype in msgbuf
// framing), interrupted by the caller's signals (FUSE INTERRUPT ends the
// request's context, which interrupts the serving thread). A MSG_COPY
// read past the last message reads as the end of the file.
func (h *kernelQueueHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if off != 0 {
		return fuse.ReadResultData(nil), 0
	}
	hdr := nsmodel.MsgHdrSize
	if h.view.mtext {
		hdr = 0
	}
	size := len(dest) - hdr
	if size < 0 {
		return nil, syscall.EINVAL
	}
	c := kcred(ctx)
	var typ int64
	var text []byte
	var err error
	if h.view.readFlags()&nsmodel.MsgCopy != 0 {
		h.copyMu.Lock()
		typ, text, err = h.ns.MsgRcv(ctx, c, h.id, size, h.copyNext, h.view.readFlags()|nsmodel.IPCNoWait)
		if err == nil {
			h.copyNext++
		}
		h.copyMu.Unlock()
		if err == syscall.ENOMSG {
			return fuse.ReadResultData(nil), 0
		}
	} else {
		typ, text, err = h.ns.MsgRcv(ctx, c, h.id, size, h.view.typ, h.view.flags|h.nowait(ctx))
	}
	if err != nil {
		return nil, errno(err)
	}
	if h.view.mtext {
		return fuse.ReadResultData(text), 0
	}
	buf := make([]byte, nsmodel.MsgHdrSize+len(text))
	nsmodel.PutMsgType(buf, typ)
	copy(buf[nsmodel.MsgHdrSize:], text)
	return fuse.ReadResultData(buf), 0
}

// Write is msgsnd: the data is a struct msgbuf, or in mtext framing the
// mtext, sent with the view's mtype.
func (h *kernelQueueHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if off != 0 && !h.appending {
		return 0, syscall.EINVAL
	}
	mtype, text := h.view.mtype, data
	if !h.view.mtext {
		if len(data) < nsmodel.MsgHdrSize || len(data) > msgMaxWire {
			return 0, syscall.EINVAL
		}
		mtype = int64(binary.NativeEndian.Uint64(data))
		text = data[nsmodel.MsgHdrSize:]
	} else if len(data) > msgMaxText {
		return 0, syscall.EINVAL
	}
	flags := h.view.flags&nsmodel.IPCNoWait | h.nowait(ctx)
	if err := h.ns.MsgSnd(ctx, kcred(ctx), h.id, mtype, text, flags); err != nil {
		return 0, errno(err)
	}
	return uint32(len(data)), 0
}

func (h *kernelQueueHandle) Flush(ctx context.Context) syscall.Errno { return 0 }
