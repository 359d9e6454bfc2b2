// Package fs presents an nsmodel.Model as a FUSE file system: it
// translates lookups, opens, reads, writes and attribute changes into calls
// on the model, and leaves every decision to it.
package fs

import (
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/internal/fuseconn"
	"github.com/shmfs/shmfs/nsmodel"
)

// Config is how a mount is served.
type Config struct {
	AllowOther bool
	// DirectMount mounts with mount(2) rather than fusermount3; it needs
	// root (CAP_SYS_ADMIN).
	DirectMount bool
	// NoPassthrough keeps segment I/O in the server even where the kernel
	// could pass it through to the memfd.
	NoPassthrough bool
	Debug         bool
	// Isolate shows each caller that is not an administrator only the
	// namespace bound to its kernel IPC namespace (docs/containers.md).
	Isolate bool
	Log     *slog.Logger // operator events (warnings, refused commands); nil: none
	// IOUring is "auto", "on" or "off": requests served from per-CPU
	// io_uring rings (internal/fuseconn).
	IOUring string
	// Survivors are mappings that outlived an earlier server of this
	// mount (survivors.go); nil: none.
	Survivors *Survivors
}

// mountState is what every node of one mount shares.
type mountState struct {
	model *nsmodel.Model
	// passthrough is decided once per mount, before the first segment is
	// opened: the kernel refuses to mix passthrough and cached I/O on one
	// inode.
	passthrough bool
	// held keeps the attaches of mappings that outlive their handle, which
	// only passthrough has; nil otherwise.
	held *heldMaps
	// inval tells the kernel what changed behind its back.
	inval *invalidator
	// releases is held for reading by every release being served, and
	// for writing by a request that must see their effect (nodeFS).
	releases sync.RWMutex
	// attrMu serializes the dropping of attributes that an attach
	// changed, so that every open returns after it.
	attrMu sync.Mutex
	// queues are the inodes of each message queue that the kernel holds.
	queues queueCaches
	// sets are the inodes of each semaphore set that the kernel holds.
	sets setCaches
	// nofileWarned is set once the descriptor warning has been printed.
	nofileWarned atomic.Bool
	// survivors are the attaches of mappings that outlived an earlier
	// server (survivors.go); nil but after a restart.
	survivors *survivors
}

// settle brings nattch up to date before something looks at it or acts on
// it: attaches whose passthrough mapping has gone are ended.
func (m *mountState) settle() {
	m.survivors.settle(nil, false)
	if m.held != nil {
		m.held.settle(nil)
	}
}

// settleSeg is settle for one segment.
func (m *mountState) settleSeg(s *nsmodel.Shm) {
	m.survivors.settle(s, false)
	if m.held != nil {
		m.held.settle(s)
	}
}

// settleRemoved ends the held attaches of removed segments whose mappings
// have gone, so that each is destroyed, its id and pages given back,
// before a new segment is counted against shmmni and shmall and given an
// id.
func (m *mountState) settleRemoved() {
	m.survivors.settle(nil, true)
	if m.held != nil {
		m.held.settleRemoved()
	}
}

// removed tells the attach watch that s was removed: its held attaches
// are from now on checked before every create.
func (m *mountState) removed(s *nsmodel.Shm) {
	if m.held != nil {
		m.held.removed(s)
	}
}

// started is the time that directories and fixed files show.
var started = uint64(time.Now().Unix())

// fixedAttr fills the attributes of a directory or a fixed file: its
// mode, and the server's start as its times.
func fixedAttr(a *fuse.Attr, mode uint32) {
	a.Mode = mode
	a.Nlink = 1
	if mode&syscall.S_IFDIR != 0 {
		a.Nlink = 2
	}
	a.Atime, a.Mtime, a.Ctime = started, started, started
}

// Mount is a served shmfs.
type Mount struct {
	// Server is the connection: Wait returns when serving has stopped.
	Server      *fuseconn.Conn
	Passthrough bool
	state       *mountState
	dev         uint64
}

// New mounts model on dir and starts serving it.
func New(dir string, model *nsmodel.Model, cfg Config) (*Mount, error) {
	st := &mountState{model: model, inval: newInvalidator()}
	if cfg.Survivors != nil {
		st.survivors = cfg.Survivors.sv
	}
	model.Gone = st.goneHook
	// The descriptor of the server's own IPC namespace is opened now,
	// not by the tenancy's first reap two seconds in: the server's
	// descriptors beside its segments' are all there from the start.
	model.ServerNS()
	if cfg.Log != nil {
		refusalLog.Store(cfg.Log)
	}
	root := &rootNode{m: st}
	zero := time.Duration(0)
	opts := &gofs.Options{
		MountOptions: fuse.MountOptions{
			AllowOther:        cfg.AllowOther,
			DirectMount:       cfg.DirectMount,
			DirectMountStrict: cfg.DirectMount,
			FsName:            "shmfs",
			Name:              "shmfs",
			MaxWrite:          1 << 20,
			Debug:             cfg.Debug,
			// No extended attributes: the kernel then stops asking for
			// security.capability before every write and truncate.
			DisableXAttrs: true,
		},
		// Each node sets its own timeouts (cache.go); these only fill in
		// those left at 0.
		EntryTimeout:    &zero,
		AttrTimeout:     &zero,
		NegativeTimeout: &zero,
		NullPermissions: true,
		RootStableAttr:  &gofs.StableAttr{Ino: rootIno},
	}
	// How segment I/O is served is decided once INIT is answered and
	// before any request is served: a request that saw it undecided
	// could open a segment without passthrough on a passthrough mount.
	var setupErr error
	beforeServe := func(srv *fuse.Server) {
		if cfg.NoPassthrough || !probePassthrough(srv) {
			return
		}
		// The mount's device, without a request (nothing serves yet).
		var stx unix.Statx_t
		if err := unix.Statx(unix.AT_FDCWD, dir, unix.AT_STATX_DONT_SYNC, unix.STATX_TYPE, &stx); err != nil {
			setupErr = err
			return
		}
		st.passthrough = true
		st.held = newHeldMaps(stx.Dev_major, stx.Dev_minor)
		model.SharePages() // openers reach the memfds themselves
	}
	conn := fuseconn.New(fuseconn.Options{IOUring: cfg.IOUring, BeforeServe: beforeServe})
	if err := mountTree(dir, root, opts, cfg.Isolate, conn); err != nil {
		return nil, err
	}
	if setupErr != nil {
		conn.Unmount()
		return nil, setupErr
	}
	m := &Mount{Server: conn, state: st, Passthrough: st.passthrough}
	var fi unix.Stat_t
	if err := unix.Stat(dir, &fi); err == nil {
		m.dev = fi.Dev
	}
	st.checkNofile()
	return m, nil
}

// probePassthrough reports whether the kernel granted FUSE passthrough and
// lets this server register backing files (it needs CAP_SYS_ADMIN).
func probePassthrough(srv *fuse.Server) bool {
	if srv.KernelSettings().Flags64()&fuse.CAP_PASSTHROUGH == 0 {
		return false
	}
	fd, err := unix.MemfdCreate("shmfs-probe", unix.MFD_CLOEXEC)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	id, errno := srv.RegisterBackingFd(&fuse.BackingMap{Fd: int32(fd)})
	if errno != 0 {
		return false
	}
	srv.UnregisterBackingFd(id)
	return true
}

// Mode says how segment I/O is served, for the ready line.
func (m *Mount) Mode() string {
	if m.Passthrough {
		return "passthrough (mappings are the memfd pages)"
	}
	return "cached (reads, writes and mappings go through the server)"
}

// Transport says how requests reach the server, for the ready line.
func (m *Mount) Transport() string { return m.Server.Transport() }

// Unmount unmounts and waits until serving stops.
func (m *Mount) Unmount() error { return m.Server.Unmount() }

// errno turns a model error into the errno FUSE answers with.
func errno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	if e, ok := err.(syscall.Errno); ok {
		return e
	}
	if r, ok := err.(*refusal); ok {
		return r.errno
	}
	if pe, ok := err.(*os.PathError); ok {
		return errno(pe.Err)
	}
	fmt.Fprintln(os.Stderr, "shmfs: unexpected error:", err)
	return syscall.EIO
}
