package fs

import (
	"context"
	"sync/atomic"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/nsmodel"
)

// segNode is a shared memory segment: a regular file whose pages are the
// segment's memfd.
type segNode struct {
	gofs.Inode
	m *mountState
	t *nsmodel.ShmTable
	s *nsmodel.Shm
	// atime is the shm_atim that the kernel was last given, or told to
	// forget: an attach at another second drops the cached attributes.
	atime atomic.Int64
}

var (
	_ = (gofs.NodeGetattrer)((*segNode)(nil))
	_ = (gofs.NodeSetattrer)((*segNode)(nil))
	_ = (gofs.NodeOpener)((*segNode)(nil))
)

// fill renders the segment's shmid_ds as a stat. (Nothing in it depends
// on nattch, so held attaches need not be settled first.)
func (n *segNode) fill(a *fuse.Attr) {
	st := n.t.Stat(n.s)
	n.show(a, &st)
}

// show renders snapshot st as a stat: size is shm_segsz, atime shm_atim,
// ctime shm_ctim, blocks the resident pages.
func (n *segNode) show(a *fuse.Attr, st *nsmodel.ShmStat) {
	n.atime.Store(st.Atime)
	a.Mode = syscall.S_IFREG | st.Mode&nsmodel.ModePerm
	a.Size = st.Size
	a.Blocks = uint64(st.Resident) / 512
	a.Blksize = uint32(nsmodel.PageSize)
	a.Owner = fuse.Owner{Uid: st.UID, Gid: st.GID}
	a.Nlink = 1
	if st.Deleted || st.Mode&nsmodel.ShmDest != 0 {
		a.Nlink = 0
	}
	a.Atime = uint64(st.Atime)
	a.Mtime = uint64(st.Ctime)
	a.Ctime = uint64(st.Ctime)
	a.Ino = serialIno(n.s.Serial())
}

func (n *segNode) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.fill(&out.Attr)
	out.SetTimeout(objectTimeout)
	return 0
}

// Setattr is ftruncate (shm_segsz), chmod and chown (IPC_SET); setting
// times, as touch does, is checked as on any file and changes nothing.
func (n *segNode) Setattr(ctx context.Context, f gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return setattrObject(ctx, n, f, in, out)
}

func (n *segNode) checkTimes(c *nsmodel.Cred, now bool) error {
	st := n.t.Stat(n.s)
	return st.CheckTimes(c, now)
}

func (n *segNode) resize(c *nsmodel.Cred, size uint64, byPath bool) error {
	// A resize depends on whether anyone holds the pages: closes made
	// before it are seen first.
	n.m.afterReleases()
	n.m.settleSeg(n.s)
	return n.t.Truncate(c, n.s, size, byPath)
}

func (n *segNode) ipcSet(c *nsmodel.Cred, a nsmodel.SetAttr) error { return n.t.Set(c, n.s, a) }

// Open is an attach. It sets shm_atim, which stat shows: when that moves
// to another second, the kernel's copy of the attributes goes before the
// open returns. Handles need no flush at close.
func (n *segNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	c := callerCred(ctx)
	if n.t.Shrunk(n.s) {
		n.m.settleSeg(n.s) // attaches that ended let the pages be cut to size
	}
	if err := n.t.Attach(c, n.s, accessOf(flags)); err != nil {
		return nil, 0, errno(err)
	}
	if now := n.m.model.Now(); n.atime.Load() != now {
		// Concurrent opens wait until the attributes are dropped.
		n.m.attrMu.Lock()
		if n.atime.Load() != now {
			dropAttr(n.EmbeddedInode())
			n.atime.Store(now)
		}
		n.m.attrMu.Unlock()
	}
	return &segHandle{m: n.m, t: n.t, s: n.s, pid: n.m.held.process(c.PID)}, fuse.FOPEN_NOFLUSH, 0
}

// segHandle is one attach: it lives from open until the last close or
// munmap of what the open made.
type segHandle struct {
	m *mountState
	t *nsmodel.ShmTable
	s *nsmodel.Shm
	// pid is the opener: under passthrough its process, whose maps hold
	// the attach once the handle is released (mapwatch.go).
	pid int32
}

var (
	_ = (gofs.FileReader)((*segHandle)(nil))
	_ = (gofs.FileWriter)((*segHandle)(nil))
	_ = (gofs.FileReleaser)((*segHandle)(nil))
	_ = (gofs.FileFlusher)((*segHandle)(nil))
	_ = (gofs.FileFsyncer)((*segHandle)(nil))
	_ = (gofs.FilePassthroughFder)((*segHandle)(nil))
)

// PassthroughFd hands the kernel the memfd, so reads, writes and mappings
// go straight to its pages.
func (h *segHandle) PassthroughFd() (int, bool) {
	return h.s.Fd(), h.m.passthrough
}

func (h *segHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n, err := unix.Pread(h.s.Fd(), dest, off)
	if err != nil {
		return nil, errno(err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

// Write past the end grows the segment within shmmax, shmall and its
// sealed pages (ShmTable.Extend), before the bytes land.
func (h *segHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	end := uint64(off) + uint64(len(data))
	if st := h.t.Stat(h.s); end > st.Size {
		if err := h.t.Extend(h.s, end); err != nil {
			return 0, errno(err)
		}
	}
	n, err := unix.Pwrite(h.s.Fd(), data, off)
	if err != nil {
		return 0, errno(err)
	}
	return uint32(n), 0
}

// Flush is never sent: segments are opened with FOPEN_NOFLUSH, so a
// close costs no round trip. (An ENOSYS would stop flushes on the whole
// mount, and ctl handles need theirs.)
func (h *segHandle) Flush(ctx context.Context) syscall.Errno { return 0 }

// Fsync has nothing to do: the pages are memory.
func (h *segHandle) Fsync(ctx context.Context, flags uint32) syscall.Errno { return 0 }

// Release is a detach, unless a passthrough mapping made through the
// handle still holds the attach.
func (h *segHandle) Release(ctx context.Context) syscall.Errno {
	if h.m.held != nil {
		h.m.held.release(h.t, h.s, h.pid, serialIno(h.s.Serial()))
		return 0
	}
	h.t.Detach(h.s, h.pid)
	return 0
}
