package fs

import (
	"context"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/shmfs/shmfs/internal/kernelipc"
	"github.com/shmfs/shmfs/nsmodel"
)

// openSet opens a kernel semaphore set: each write is one semop or
// semtimedop in the text or binary form of semwire.go (or a SETVAL or
// SETALL), each read GETALL, made by the kernel for the caller.
func (n *kernelObj) openSet(ctx context.Context, ns *kernelipc.Namespace, c *kernelipc.Cred, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	access := 0
	if flags&syscall.O_ACCMODE != syscall.O_WRONLY {
		access = 0o400
	}
	if err := n.checkOpen(ns, c, access); err != nil {
		return nil, 0, errno(err)
	}
	return &kernelSetHandle{ns: ns, id: n.id, appending: flags&syscall.O_APPEND != 0}, semOpenFlags, 0
}

// kernelSetHandle is an open kernel set. Its SEM_UNDO adjustments are
// kept by the kernel on a thread of the handle's own
// (kernelipc.Undo), made at its first semop with SEM_UNDO, and applied
// by the kernel when the handle is released, as at the exit of a process.
type kernelSetHandle struct {
	ns        *kernelipc.Namespace
	id        int
	appending bool

	// mu protects undo, text and read.
	mu   sync.Mutex
	undo *kernelipc.Undo
	text []byte
	read int
}

var (
	_ = (gofs.FileReader)((*kernelSetHandle)(nil))
	_ = (gofs.FileWriter)((*kernelSetHandle)(nil))
	_ = (gofs.FileReleaser)((*kernelSetHandle)(nil))
	_ = (gofs.FileFlusher)((*kernelSetHandle)(nil))
)

// undoThread is the handle's SEM_UNDO thread, made on first use: ENOMEM
// past the bounds, as a semop that cannot allocate its undo structure.
func (h *kernelSetHandle) undoThread(c *kernelipc.Cred) (*kernelipc.Undo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.undo == nil {
		u, err := h.ns.NewUndo(c)
		if err != nil {
			return nil, err
		}
		h.undo = u
	}
	return h.undo, nil
}

func (h *kernelSetHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if (off != 0 && !h.appending) || len(data) > semMaxWrite {
		return 0, syscall.EINVAL
	}
	c := kcred(ctx)
	if isSemctlWrite(data) {
		if err := h.semctl(c, data); err != nil {
			return 0, errno(err)
		}
		return uint32(len(data)), 0
	}
	var buf [semFastOps]nsmodel.Sembuf
	req, err := parseSemop(data, buf[:0])
	if err != nil {
		return 0, errno(err)
	}
	ops := make([]kernelipc.Sembuf, len(req.Ops))
	undo := false
	for i, o := range req.Ops {
		ops[i] = kernelipc.Sembuf{Num: o.Num, Op: o.Op, Flg: o.Flg}
		if o.Flg&kernelipc.SemUndo != 0 {
			undo = true
		}
	}
	var timeout *time.Duration
	if req.Timed {
		if req.Timeout < 0 {
			return 0, syscall.EINVAL
		}
		timeout = &req.Timeout
	}
	var u *kernelipc.Undo
	if undo {
		if u, err = h.undoThread(c); err != nil {
			return 0, errno(err)
		}
	}
	if err := h.ns.Semop(ctx, c, h.id, ops, timeout, u); err != nil {
		return 0, errno(err)
	}
	return uint32(len(data)), 0
}

// semctl runs "SETVAL <semnum> <value>" or "SETALL <value>..." written to
// the set's file.
func (h *kernelSetHandle) semctl(c *kernelipc.Cred, data []byte) error {
	cmd, err := parseCtl(data)
	if err != nil {
		return err
	}
	if len(cmd.args) > 0 {
		return syscall.EINVAL
	}
	switch cmd.op {
	case "SETVAL":
		args, err := semArgs(cmd, 2)
		if err != nil {
			return err
		}
		_, err = h.ns.SemCtl(c, h.id, args[0], kernelipc.SetVal, args[1])
		return err
	case "SETALL":
		args, err := semArgs(cmd, -1)
		if err != nil {
			return err
		}
		vals, err := semValues(args)
		if err != nil {
			return err
		}
		return h.ns.SemSetAll(c, h.id, vals)
	}
	return syscall.EINVAL
}

// Read shows the values (GETALL), in decimal separated by blanks; a read
// that finds them all read ends the file, and the next shows them anew.
func (h *kernelSetHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.text == nil {
		vals, err := h.ns.SemGetAll(kcred(ctx), h.id)
		if err != nil {
			return nil, errno(err)
		}
		h.text, h.read = []byte(formatValues(vals)), 0
	}
	n := copy(dest, h.text[h.read:])
	h.read += n
	if n == 0 {
		h.text = nil
	}
	return fuse.ReadResultData(dest[:n]), 0
}

func (h *kernelSetHandle) Flush(ctx context.Context) syscall.Errno { return 0 }

// Release applies the handle's SEM_UNDO adjustments (the kernel's
// exit_sem, on the handle's thread) and ends that thread.
func (h *kernelSetHandle) Release(ctx context.Context) syscall.Errno {
	h.mu.Lock()
	u := h.undo
	h.undo = nil
	h.mu.Unlock()
	if u != nil {
		u.Close()
	}
	return 0
}
