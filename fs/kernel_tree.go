package fs

import (
	"context"
	"os"
	"sort"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/shmfs/shmfs/internal/kernelipc"
	"github.com/shmfs/shmfs/nsmodel"
)

// MOUNT/kernel/ is the kernel's own IPC namespaces (docs/kernel.md):
//
//	kernel/self                      -> ipc-<inode> of the caller's namespace
//	kernel/ipc-<inode>/shm|msg|sem/  the namespace's objects, and ctl
//	kernel/ipc-<inode>/sysvipc/*     its /proc/sysvipc/*
//	kernel/ipc-<inode>/limits/*      its /proc/sys/kernel/{shmmax,...,sem}
//
// Nothing here is modelled: every operation is the kernel's own call,
// made by internal/kernelipc inside the namespace with the caller's
// credentials. Objects change behind the server's back (any program may
// call shmget), so no entry or attribute below a namespace is cached by
// the kernel: each lookup and stat asks again.
const kernelName = "kernel"

// kernelLiveAge is how long one scan of /proc for live namespaces serves
// listings and lookups: a namespace made or ended shows within it.
const kernelLiveAge = 500 * time.Millisecond

// kernelTree is what the nodes below MOUNT/kernel share.
type kernelTree struct {
	m   *mountState
	t   *tenancy
	mgr *kernelipc.Manager

	// mu protects idx, live and liveAt.
	mu     sync.Mutex
	idx    map[kernelipc.NSID]uint64
	live   map[kernelipc.NSID]int32
	liveAt time.Time
}

// newKernelTree is the mirror of a mount, or nil when the server cannot
// serve it: setns, the per-thread credential changes and map_files need
// root.
func newKernelTree(m *mountState, t *tenancy) *kernelTree {
	if os.Geteuid() != 0 {
		return nil
	}
	k := &kernelTree{m: m, t: t, mgr: kernelipc.NewManager(kernelipc.Bounds{}), idx: make(map[kernelipc.NSID]uint64)}
	go k.sweep()
	return k
}

// kernelSweepInterval is how often the namespaces the server holds are
// checked for a live process when no request does it (liveNS): a
// namespace whose last process ended is let go within it, so the kernel
// frees it and its objects even if nobody looks at kernel/ again.
const kernelSweepInterval = 2 * time.Second

func (k *kernelTree) sweep() {
	tick := time.NewTicker(kernelSweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-k.t.stop:
			k.mgr.Close()
			return
		case <-tick.C:
			if k.mgr.Len() > 0 {
				k.mu.Lock()
				k.live = nil // a fresh scan, which sweeps
				k.mu.Unlock()
				k.liveNS()
			}
		}
	}
}

func (k *kernelTree) ino(id kernelipc.NSID, what, n uint64) uint64 {
	var idx uint64
	if id != 0 {
		k.mu.Lock()
		idx = k.idx[id]
		if idx == 0 {
			idx = uint64(len(k.idx)) + 1
			k.idx[id] = idx
		}
		k.mu.Unlock()
	}
	return kinoBase | (idx&(1<<24-1))<<36 | what<<32 | n&(1<<32-1)
}

// liveNS is the namespaces that hold a process, from a scan at most
// kernelLiveAge old. A fresh scan also lets the manager close the
// namespaces that ended, so that the kernel frees them.
func (k *kernelTree) liveNS() map[kernelipc.NSID]int32 {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.live != nil && time.Since(k.liveAt) < kernelLiveAge {
		return k.live
	}
	live, err := kernelipc.Live()
	if err != nil {
		return k.live
	}
	k.live, k.liveAt = live, time.Now()
	k.mgr.Sweep(live)
	return live
}

// namespace is namespace id, if it holds a process.
func (k *kernelTree) namespace(id kernelipc.NSID) (*kernelipc.Namespace, error) {
	live := k.liveNS()
	pid, ok := live[id]
	if !ok {
		return nil, syscall.ENOENT
	}
	return k.mgr.Get(id, pid)
}

// kcred is the caller of a request as the kernel would see it making the
// call itself: uid, gid, groups and capabilities.
func kcred(ctx context.Context) *kernelipc.Cred {
	if c, ok := fuse.FromContext(ctx); ok {
		return kernelipc.CredOf(c.Uid, c.Gid, int32(c.Pid))
	}
	return kernelipc.NewCred(0, 0, nil)
}

// kcredOf is kcred for a ctl command, which has the model's credential.
func kcredOf(c *nsmodel.Cred) *kernelipc.Cred { return kernelipc.CredOf(c.UID, c.GID, c.PID) }

// noCache makes the kernel ask again at each lookup and stat.
func noCache(out *fuse.EntryOut) {
	out.SetEntryTimeout(0)
	out.SetAttrTimeout(0)
}

// kernelDir is MOUNT/kernel/.
type kernelDir struct {
	gofs.Inode
	k *kernelTree
}

var (
	_ = (gofs.NodeLookuper)((*kernelDir)(nil))
	_ = (gofs.NodeReaddirer)((*kernelDir)(nil))
	_ = (gofs.NodeGetattrer)((*kernelDir)(nil))
)

func kernelDirAttr(a *fuse.Attr, ino uint64) {
	fixedAttr(a, syscall.S_IFDIR|0o555)
	a.Ino = ino
}

func (d *kernelDir) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	kernelDirAttr(&out.Attr, d.k.ino(0, kinoTop, 0))
	return 0
}

func (d *kernelDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	noCache(out)
	if name == selfName {
		ino := d.k.ino(0, kinoTop, 1)
		fixedAttr(&out.Attr, syscall.S_IFLNK|0o777)
		out.Attr.Ino = ino
		return d.NewInode(ctx, &kernelSelf{}, gofs.StableAttr{Mode: syscall.S_IFLNK, Ino: ino}), 0
	}
	id, ok := kernelipc.ParseName(name)
	if !ok || !d.k.t.seesKernel(callerCred(ctx), uint64(id)) {
		return nil, syscall.ENOENT
	}
	if _, ok := d.k.liveNS()[id]; !ok {
		return nil, syscall.ENOENT
	}
	ino := d.k.ino(id, kinoNSDir, 0)
	kernelDirAttr(&out.Attr, ino)
	return d.NewInode(ctx, &kernelNSDir{k: d.k, id: id}, gofs.StableAttr{Mode: syscall.S_IFDIR, Ino: ino}), 0
}

func (d *kernelDir) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	live := d.k.liveNS()
	ids := make([]kernelipc.NSID, 0, len(live))
	c := callerCred(ctx)
	for id := range live {
		if d.k.t.seesKernel(c, uint64(id)) {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	ents := []fuse.DirEntry{{Name: selfName, Mode: syscall.S_IFLNK, Ino: d.k.ino(0, kinoTop, 1)}}
	for _, id := range ids {
		ents = append(ents, fuse.DirEntry{Name: id.Name(), Mode: syscall.S_IFDIR, Ino: d.k.ino(id, kinoNSDir, 0)})
	}
	return gofs.NewListDirStream(ents), 0
}

// kernelSelf is kernel/self: a link to the caller's own namespace, as
// readlink(/proc/<pid>/ns/ipc) names it. ENOENT for a caller the server
// cannot place (pid 0: outside its pid namespace).
type kernelSelf struct{ gofs.Inode }

var (
	_ = (gofs.NodeReadlinker)((*kernelSelf)(nil))
	_ = (gofs.NodeGetattrer)((*kernelSelf)(nil))
)

func (n *kernelSelf) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	fixedAttr(&out.Attr, syscall.S_IFLNK|0o777)
	return 0
}

func (n *kernelSelf) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	id, err := kernelipc.Of(callerPid(ctx))
	if err != nil {
		return nil, syscall.ENOENT
	}
	return []byte(id.Name()), 0
}

// kernelNSDir is kernel/ipc-<inode>/ and its two fixed subdirectories
// (which: "" for the namespace, "sysvipc" or "limits").
type kernelNSDir struct {
	gofs.Inode
	k     *kernelTree
	id    kernelipc.NSID
	which string
}

var (
	_ = (gofs.NodeLookuper)((*kernelNSDir)(nil))
	_ = (gofs.NodeReaddirer)((*kernelNSDir)(nil))
	_ = (gofs.NodeGetattrer)((*kernelNSDir)(nil))
)

// kinds are the three tables, in the order of their kind numbers.
var kinds = []string{"shm", "msg", "sem"}

func (d *kernelNSDir) dirIno() uint64 {
	switch d.which {
	case "sysvipc":
		return d.k.ino(d.id, kinoNSDir, 1)
	case "limits":
		return d.k.ino(d.id, kinoNSDir, 2)
	}
	return d.k.ino(d.id, kinoNSDir, 0)
}

func (d *kernelNSDir) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	kernelDirAttr(&out.Attr, d.dirIno())
	return 0
}

type kernelEntry struct {
	name string
	mode uint32
	ino  uint64
	node func() gofs.InodeEmbedder
}

func (d *kernelNSDir) entries() []kernelEntry {
	var ents []kernelEntry
	switch d.which {
	case "":
		for i, kind := range kinds {
			ents = append(ents, kernelEntry{kind, syscall.S_IFDIR, d.k.ino(d.id, kinoNSDir, 3+uint64(i)),
				func() gofs.InodeEmbedder { return &kernelTable{k: d.k, id: d.id, kind: i} }})
		}
		for i, sub := range []string{"sysvipc", "limits"} {
			ents = append(ents, kernelEntry{sub, syscall.S_IFDIR, d.k.ino(d.id, kinoNSDir, 1+uint64(i)),
				func() gofs.InodeEmbedder { return &kernelNSDir{k: d.k, id: d.id, which: sub} }})
		}
	case "sysvipc":
		for i, kind := range kinds {
			ents = append(ents, kernelEntry{kind, syscall.S_IFREG, d.k.ino(d.id, kinoSysvipc, uint64(i)),
				func() gofs.InodeEmbedder { return &kernelText{k: d.k, id: d.id, sysvipc: kind} }})
		}
	case "limits":
		for i, name := range kernelipc.LimitNames {
			ents = append(ents, kernelEntry{name, syscall.S_IFREG, d.k.ino(d.id, kinoLimit, uint64(i)),
				func() gofs.InodeEmbedder { return &kernelText{k: d.k, id: d.id, limit: name} }})
		}
	}
	return ents
}

func (d *kernelNSDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if _, ok := d.k.liveNS()[d.id]; !ok {
		return nil, syscall.ENOENT
	}
	for _, e := range d.entries() {
		if e.name != name {
			continue
		}
		ch := d.NewInode(ctx, e.node(), gofs.StableAttr{Mode: e.mode, Ino: e.ino})
		if ga, ok := ch.Operations().(gofs.NodeGetattrer); ok {
			var a fuse.AttrOut
			if errno := ga.Getattr(ctx, nil, &a); errno != 0 {
				return nil, errno
			}
			out.Attr = a.Attr
		}
		out.Attr.Ino = e.ino
		noCache(out)
		return ch, 0
	}
	return nil, syscall.ENOENT
}

func (d *kernelNSDir) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	var ents []fuse.DirEntry
	for _, e := range d.entries() {
		ents = append(ents, fuse.DirEntry{Name: e.name, Mode: e.mode, Ino: e.ino})
	}
	return gofs.NewListDirStream(ents), 0
}
