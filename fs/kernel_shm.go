package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/internal/kernelipc"
)

// openSeg is an attach: shmat of the segment made by the kernel for the
// opener (read-only for O_RDONLY, as SHM_RDONLY; read and write
// otherwise, as shmat has no write-only), held by the server until the
// handle's release, and the segment's own shm file as the file's pages.
// The kernel counts the attach in shm_nattch.
func (n *kernelObj) openSeg(ns *kernelipc.Namespace, c *kernelipc.Cred, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	a, err := ns.ShmAttach(c, n.id, flags&syscall.O_ACCMODE != syscall.O_RDONLY)
	if err != nil {
		return nil, 0, errno(err)
	}
	return &kernelSegHandle{m: n.k.m, a: a}, fuse.FOPEN_NOFLUSH, 0
}

// kernelSegHandle is one attach of a kernel segment.
type kernelSegHandle struct {
	m *mountState
	a *kernelipc.Attach
}

var (
	_ = (gofs.FileReader)((*kernelSegHandle)(nil))
	_ = (gofs.FileWriter)((*kernelSegHandle)(nil))
	_ = (gofs.FileReleaser)((*kernelSegHandle)(nil))
	_ = (gofs.FileFlusher)((*kernelSegHandle)(nil))
	_ = (gofs.FileFsyncer)((*kernelSegHandle)(nil))
	_ = (gofs.FilePassthroughFder)((*kernelSegHandle)(nil))
)

// PassthroughFd hands the kernel the segment's shm file: reads, writes
// and mappings of the mirror's file go straight to the segment's pages,
// the very pages every shmat of it maps.
func (h *kernelSegHandle) PassthroughFd() (int, bool) {
	return int(h.a.File.Fd()), h.m.passthrough
}

func (h *kernelSegHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if uint64(off) >= h.a.Size {
		return fuse.ReadResultData(nil), 0
	}
	if rest := h.a.Size - uint64(off); uint64(len(dest)) > rest {
		dest = dest[:rest]
	}
	n, err := unix.Pread(int(h.a.File.Fd()), dest, off)
	if err != nil {
		return nil, errno(err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

// Write stores within shm_segsz, which never changes: a write that
// crosses the end is cut there, one wholly past it is EFBIG, as a file
// at its size limit answers. (Under passthrough the kernel writes the
// shm file itself; see docs/kernel.md.)
func (h *kernelSegHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if uint64(off) >= h.a.Size {
		return 0, syscall.EFBIG
	}
	if rest := h.a.Size - uint64(off); uint64(len(data)) > rest {
		data = data[:rest]
	}
	n, err := unix.Pwrite(int(h.a.File.Fd()), data, off)
	if err != nil {
		return 0, errno(err)
	}
	return uint32(n), 0
}

func (h *kernelSegHandle) Flush(ctx context.Context) syscall.Errno { return 0 }

func (h *kernelSegHandle) Fsync(ctx context.Context, flags uint32) syscall.Errno { return 0 }

// Release is the detach: shm_nattch − 1, and the kernel destroys a
// segment marked for destruction whose last attach this was.
func (h *kernelSegHandle) Release(ctx context.Context) syscall.Errno {
	return errno(h.a.Close())
}
