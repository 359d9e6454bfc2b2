package fs

import (
	"context"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/shmfs/shmfs/nsmodel"
)

// msgHandle is an open queue: each write is one msgsnd, each read one
// msgrcv, as its view says.
type msgHandle struct {
	q *nsmodel.Msg
	// qc drops the queue's cached attributes when a send or receive
	// moves its times.
	qc   *queueCache
	view msgView
	// recvFlags and sendFlags are the view's flags; IPC_NOWAIT is added
	// per call while the file is in non-blocking mode.
	recvFlags int
	sendFlags int
	// openedNonblock: the file was opened with O_NONBLOCK, for a request
	// that carries no file flags.
	openedNonblock bool
	// appending: an O_APPEND write starts at the kernel's idea of the
	// file's end rather than at 0, so its offset says nothing.
	appending bool

	// copyMu protects copyNext, the index that the next MSG_COPY read
	// copies: successive reads walk the queue.
	copyMu   sync.Mutex
	copyNext int64
}

var (
	_ = (gofs.FileReader)((*msgHandle)(nil))
	_ = (gofs.FileWriter)((*msgHandle)(nil))
	_ = (gofs.FileFlusher)((*msgHandle)(nil))
)

func newMsgHandle(q *nsmodel.Msg, qc *queueCache, v msgView, flags uint32) *msgHandle {
	h := &msgHandle{q: q, qc: qc, view: v, recvFlags: v.readFlags(), appending: flags&syscall.O_APPEND != 0}
	h.openedNonblock = flags&syscall.O_NONBLOCK != 0
	h.sendFlags = v.flags & nsmodel.IPCNoWait
	h.copyNext = v.typ
	return h
}

// nowait is IPC_NOWAIT while the file is in non-blocking mode: opened
// with O_NONBLOCK, or set so by fcntl(F_SETFL) since.
func (h *msgHandle) nowait(ctx context.Context) int {
	if nonblocking(ctx, h.openedNonblock) {
		return nsmodel.IPCNoWait
	}
	return 0
}

// callerPid is the pid that lspid and lrpid record: the calling thread
// as FUSE reports it.
func callerPid(ctx context.Context) int32 {
	if c, ok := fuse.FromContext(ctx); ok {
		return int32(c.Pid)
	}
	return 0
}

// Read is msgrcv(msgsz = the read's size less the mtype). A read that
// the kernel continues at an offset is the rest of a read(2) whose first
// request already took a whole message: it ends there.
func (h *msgHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if off != 0 {
		return fuse.ReadResultData(nil), 0
	}
	hdr := nsmodel.MsgHdrSize
	if h.view.mtext {
		hdr = 0
	}
	req := nsmodel.MsgRecv{Type: h.view.typ, Flags: h.recvFlags | h.nowait(ctx), BufSize: len(dest) - hdr}
	var buf []byte
	var err error
	if req.Flags&nsmodel.MsgCopy != 0 {
		buf, err = h.copy(ctx, req)
	} else {
		buf, err = h.q.Receive(ctx, callerPid(ctx), req)
	}
	if err != nil {
		return nil, errno(err)
	}
	if buf == nil {
		return fuse.ReadResultData(nil), 0
	}
	if req.Flags&nsmodel.MsgCopy == 0 {
		h.qc.moved()
	}
	return fuse.ReadResultData(buf[nsmodel.MsgHdrSize-hdr:]), 0
}

// copy is a MSG_COPY read: it copies the message at the handle's index
// and moves the index on, so that reading the handle to its end lists
// the queue. Past the last message it reads as the end of the file,
// (nil, nil) where msgrcv would fail with ENOMSG, so that cat ends
// cleanly.
func (h *msgHandle) copy(ctx context.Context, req nsmodel.MsgRecv) ([]byte, error) {
	h.copyMu.Lock()
	defer h.copyMu.Unlock()
	req.Type = h.copyNext
	buf, err := h.q.Receive(ctx, callerPid(ctx), req)
	if err == syscall.ENOMSG {
		return nil, nil
	}
	if err == nil {
		h.copyNext++
	}
	return buf, err
}

// Write is msgsnd. In msgbuf framing the data is the struct msgbuf
// itself; in mtext framing it is the mtext, sent with the view's mtype.
// A message longer than the mount carries is EINVAL, as one longer than
// msgmax is; so is a request at an offset, the tail of a write(2) the
// kernel cut, whose head has gone as a message of its own.
func (h *msgHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if off != 0 && !h.appending {
		return 0, syscall.EINVAL
	}
	var buf []byte
	if h.view.mtext {
		if len(data) > msgMaxText {
			return 0, syscall.EINVAL
		}
		buf = make([]byte, nsmodel.MsgHdrSize+len(data))
		nsmodel.PutMsgType(buf, h.view.mtype)
		copy(buf[nsmodel.MsgHdrSize:], data)
	} else {
		if len(data) > msgMaxWire {
			return 0, syscall.EINVAL
		}
		// The request's buffer is reused once Write returns: the queue
		// keeps a copy.
		buf = append([]byte(nil), data...)
	}
	if err := h.q.Send(ctx, callerPid(ctx), buf, h.sendFlags|h.nowait(ctx)); err != nil {
		return 0, errno(err)
	}
	h.qc.moved()
	return uint32(len(data)), 0
}

// Flush is never sent: queue handles are opened with FOPEN_NOFLUSH. (An
// ENOSYS would stop flushes on the whole mount, and ctl handles need
// theirs.)
func (h *msgHandle) Flush(ctx context.Context) syscall.Errno { return 0 }
