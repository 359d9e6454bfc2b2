package fs

import (
	"context"
	"sync"
	"sync/atomic"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/shmfs/shmfs/nsmodel"
)

// semMaxWrite is the longest write a set's file takes. A direct write
// reaches the server as one request only up to max_write (1 MiB,
// fs/mount.go) and max_pages (256) pinned pages; 253 pages fit in 256
// however the buffer is aligned, and the first request of a write the
// kernel cuts is always longer, so it is refused rather than half run.
const semMaxWrite = 253 << 12

// semOpenFlags is how every set handle is opened. Direct I/O brings each
// write to the server whole. A stream has no offset: every write arrives
// at offset 0, and with the size at semMaxWrite none reaches past the
// end, so that with parallel direct writes a writer blocked in semop
// holds the inode lock shared only, and the threads that share its file
// can still write the operation that wakes it. No flush makes a close
// cost no round trip.
const semOpenFlags = fuse.FOPEN_DIRECT_IO | fuse.FOPEN_STREAM | fuse.FOPEN_PARALLEL_DIRECT_WRITES | fuse.FOPEN_NOFLUSH

// semNode is a semaphore set's file.
type semNode struct {
	gofs.Inode
	m *mountState
	t *nsmodel.SemTable
	s *nsmodel.Sem
	// sc is what the kernel caches of the set, this inode among it.
	sc *setCache
}

var (
	_ = (gofs.NodeGetattrer)((*semNode)(nil))
	_ = (gofs.NodeSetattrer)((*semNode)(nil))
	_ = (gofs.NodeOpener)((*semNode)(nil))
	_ = (gofs.NodeOnForgetter)((*semNode)(nil))
)

func (n *semNode) OnForget() { n.m.sets.remove(n.s, n) }

// fill renders semid_ds as a stat: atime and mtime are sem_otime, ctime
// sem_ctime. The size is the longest write the file takes (semMaxWrite);
// nsems is in sysvipc/sem and in the count of values a read shows.
func (n *semNode) fill(a *fuse.Attr) {
	n.sc.replied()
	st := n.t.Stat(n.s)
	a.Mode = syscall.S_IFREG | st.Mode&nsmodel.ModePerm
	a.Size = semMaxWrite
	a.Blocks = a.Size / 512 // not sparse to cp (msgNode.fill)
	a.Owner = fuse.Owner{Uid: st.UID, Gid: st.GID}
	a.Nlink = 1
	if st.Deleted {
		a.Nlink = 0
	}
	a.Atime = uint64(st.Otime)
	a.Mtime = uint64(st.Otime)
	a.Ctime = uint64(st.Ctime)
	a.Ino = serialIno(n.s.Serial())
}

func (n *semNode) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.fill(&out.Attr)
	out.SetTimeout(objectTimeout)
	return 0
}

// Setattr is chmod and chown (IPC_SET). A truncation to 0, as `>`
// sends, and setting times (touch) are checked as on any file and change
// nothing; a set has no other size to set.
func (n *semNode) Setattr(ctx context.Context, f gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return setattrObject(ctx, n, f, in, out)
}

func (n *semNode) checkTimes(c *nsmodel.Cred, now bool) error {
	st := n.t.Stat(n.s)
	return st.CheckTimes(c, now)
}

func (n *semNode) resize(c *nsmodel.Cred, size uint64, byPath bool) error {
	return fixedSize(size, byPath, func() error { return n.t.Access(c, n.s, nsmodel.AccessWrite) })
}

// ipcSet drops the attributes the set's other inodes hold.
func (n *semNode) ipcSet(c *nsmodel.Cred, a nsmodel.SetAttr) error {
	if err := n.t.Set(c, n.s, a); err != nil {
		return err
	}
	n.sc.changed(n)
	return nil
}

// semOpenAccess is what an open of a set asks of ipcperms: read to read
// the values (O_RDONLY, O_RDWR); O_WRONLY asks nothing, as semget(key,
// 0, 0) does not, and each write is checked as its semop is (write to
// alter, read to wait for zero).
func semOpenAccess(flags uint32) uint32 {
	if flags&syscall.O_ACCMODE == syscall.O_WRONLY {
		return 0
	}
	return nsmodel.AccessRead
}

func (n *semNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	c := callerCred(ctx)
	if err := n.t.Access(c, n.s, semOpenAccess(flags)); err != nil {
		return nil, 0, errno(err)
	}
	// The kernel sends RELEASE without waiting for it: an open that
	// follows another file's last close must find its SEM_UNDO undone.
	n.m.afterReleases()
	return newSemHandle(n.s, n.sc, c, flags), semOpenFlags, 0
}

// semHandle is an open set: each write is one semop (or a SETVAL or
// SETALL), each read shows the values. Its SEM_UNDO adjustments are
// undone when it is released, as the kernel undoes a process's at exit.
type semHandle struct {
	s  *nsmodel.Sem
	sc *setCache
	// cred is the opener's: the checks of each operation use it, as
	// those of semop use the caller's.
	cred *nsmodel.Cred
	pid  int32
	// appending: an O_APPEND write arrives at the kernel's idea of the
	// file's end rather than at 0.
	appending bool
	undo      nsmodel.SemUndo
	// undos is set once a semop with SEM_UNDO was asked for: only then
	// does the release have adjustments to undo, and sem_otime to set.
	undos atomic.Bool
	// poll keeps the last operations written, for poll (sem_poll.go).
	poll semPoll

	// mu protects text and read: the values being read, and how much of
	// them has been. A read that finds them all read ends the file; the
	// next one shows the values anew.
	mu   sync.Mutex
	text []byte
	read int
	// failed: text is the reason of a refused write, not values.
	failed bool
}

var (
	_ = (gofs.FileReader)((*semHandle)(nil))
	_ = (gofs.FileWriter)((*semHandle)(nil))
	_ = (gofs.FileReleaser)((*semHandle)(nil))
	_ = (gofs.FileFlusher)((*semHandle)(nil))
)

func newSemHandle(s *nsmodel.Sem, sc *setCache, c *nsmodel.Cred, flags uint32) *semHandle {
	return &semHandle{s: s, sc: sc, cred: c, pid: c.PID, appending: flags&syscall.O_APPEND != 0}
}

// pidOf is the pid semop records as sempid: the calling thread as FUSE
// reports it, or the opener's when the kernel itself asks.
func (h *semHandle) pidOf(ctx context.Context) int32 {
	if c, ok := fuse.FromContext(ctx); ok && c.Pid != 0 {
		return int32(c.Pid)
	}
	return h.pid
}

// Write is semop, or semtimedop with a timeout. A request at an offset
// is the tail of a write the kernel cut, whose head was refused.
func (h *semHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	n, err := h.write(ctx, data, off)
	if err != nil {
		if e := errno(err); e != syscall.EINTR && e != syscall.EAGAIN {
			// The next read gives the reason, once, and then the
			// values again.
			err = because(err, semWriteReason)
			logRefusal("sem", data, err)
			h.mu.Lock()
			h.text, h.read, h.failed = []byte(reasonLine(err)), 0, true
			h.mu.Unlock()
		}
		return 0, errno(err)
	}
	h.mu.Lock()
	if h.failed {
		// A reason not read is not kept past a command that worked.
		h.text, h.failed = nil, false
	}
	h.mu.Unlock()
	return n, 0
}

// write runs one write: a semop, or a SETVAL or SETALL.
func (h *semHandle) write(ctx context.Context, data []byte, off int64) (uint32, error) {
	if (off != 0 && !h.appending) || len(data) > semMaxWrite {
		return 0, syscall.EINVAL
	}
	if isSemctlWrite(data) {
		if err := h.semctl(ctx, data); err != nil {
			return 0, err
		}
		h.sc.moved()
		return uint32(len(data)), nil
	}
	var buf [semFastOps]nsmodel.Sembuf
	req, err := parseSemop(data, buf[:0])
	if err != nil {
		return 0, err
	}
	h.poll.wrote(req.Ops)
	if !h.undos.Load() && hasUndo(req.Ops) {
		h.undos.Store(true)
	}
	if err := h.s.Op(ctx, h.cred, h.pidOf(ctx), &h.undo, req); err != nil {
		return 0, err
	}
	h.sc.moved()
	return uint32(len(data)), nil
}

// Read shows the values, as GETALL, in decimal separated by blanks.
func (h *semHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.text == nil {
		text, err := h.s.AppendValues(nil, h.cred)
		if err != nil {
			return nil, errno(err)
		}
		h.text, h.read = text, 0
	}
	n := copy(dest, h.text[h.read:])
	h.read += n
	if n == 0 {
		h.text, h.failed = nil, false
	}
	return fuse.ReadResultData(dest[:n]), 0
}

// Flush answers ENOSYS, after which the kernel sends no more flushes;
// FOPEN_NOFLUSH already spares set handles the round trip.
func (h *semHandle) Flush(ctx context.Context) syscall.Errno { return syscall.ENOSYS }

// Release undoes the handle's SEM_UNDO adjustments: a process that dies
// holding a lock taken with SEM_UNDO gives it back.
func (h *semHandle) Release(ctx context.Context) syscall.Errno {
	h.s.Exit(&h.undo, h.pidOf(ctx))
	if h.undos.Load() {
		h.sc.moved()
	}
	return 0
}

func hasUndo(ops []nsmodel.Sembuf) bool {
	for _, o := range ops {
		if o.Flg&nsmodel.SemUndoFlag != 0 {
			return true
		}
	}
	return false
}
