package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"

	"github.com/shmfs/shmfs/internal/fuseconn"
	"github.com/shmfs/shmfs/nsmodel"
)

var _ = (gofs.FileLseeker)((*msgHandle)(nil))

// Lseek only answers the connection's poll probe: a queue file is a
// stream, and the kernel sends no lseek for it.
func (h *msgHandle) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	p, ok := fuseconn.PollProbe(off, whence)
	if !ok {
		return 0, syscall.ESPIPE
	}
	return fuseconn.PollReply(h.poll(p)), 0
}

// poll is the readiness of the handle (docs/msg.md): readable when a
// read of it would not wait for a message, which its name's selection
// decides; writable when a message with no mtext fits; both, and an
// error, once the queue is removed. A poller that waits is woken by the
// queue (nsmodel.MsgWatch).
func (h *msgHandle) poll(p fuseconn.PollRequest) uint32 {
	w, _ := p.Watch(func(wake func()) fuseconn.Watch { return nsmodel.NewMsgWatch(h.q, wake) }).(*nsmodel.MsgWatch)
	req := nsmodel.MsgRecv{Type: h.view.typ, Flags: h.recvFlags}
	if req.Flags&nsmodel.MsgCopy != 0 {
		h.copyMu.Lock()
		req.Type = h.copyNext
		h.copyMu.Unlock()
	}
	r := h.q.Poll(req, p.Events&pollIn != 0, p.Events&pollOut != 0, w)
	var ev uint32
	if r.Recv {
		ev |= pollIn
	}
	if r.Send {
		ev |= pollOut
	}
	if r.Removed {
		ev |= pollErr
	}
	return ev
}
