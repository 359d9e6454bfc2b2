package fs

// The go-fuse wrappers around the node tree, in one place. A request from
// the kernel passes them in this order, outermost first (mountTree):
//
//	internal/fuseconn   the connection: reads /dev/fuse, answers POLL
//	isolatedFS          (--isolate only) refuses a caller every node below a
//	                    namespace it may not see; attribute timeouts 0
//	tenantFS            tells the tenancy of the unmount
//	nodeFS              negative entries per node, releases before ctl
//	                    commands, file flags of each READ/WRITE, statfs
//	gofs (go-fuse)      the node tree: rootNode and below
//
// Each is a fuse.RawFileSystem that embeds the next and overrides only
// the requests it changes.

import (
	"sync"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/internal/fuseconn"
	"github.com/shmfs/shmfs/nsmodel"
)

// mountTree mounts the tree under root on dir, as gofs.Mount does, with
// the tenancy of the mount in between: with isolate, every request that
// names a node is checked against the caller (isolatedFS).
func mountTree(dir string, root *rootNode, opts *gofs.Options, isolate bool, conn *fuseconn.Conn) error {
	t := newTenancy(root.m, isolate)
	root.t = t
	var raw fuse.RawFileSystem = &tenantFS{RawFileSystem: &nodeFS{RawFileSystem: gofs.NewNodeFS(root, opts), m: root.m}, t: t}
	// The root's inode exists once the node file system does; requests
	// may come as soon as the server serves.
	t.root = root.EmbeddedInode()
	mo := opts.MountOptions
	if isolate {
		// READDIRPLUS hands the kernel node ids that isolatedFS would
		// not see; plain READDIR hands out none.
		mo.DisableReadDirPlus = true
		raw = newIsolatedFS(raw.(*tenantFS))
	}
	// shmfs's own connection serves the tree (internal/fuseconn).
	if err := conn.Mount(dir, raw, mo); err != nil {
		return err
	}
	t.start()
	return nil
}

// tenantFS is the node tree's file system, told of the unmount so that
// the watch on bound kernel namespaces stops with it.
type tenantFS struct {
	fuse.RawFileSystem
	t *tenancy
}

func (f *tenantFS) OnUnmount() {
	f.t.unmounted()
	f.RawFileSystem.OnUnmount()
}

// isolatedFS refuses a caller every node below a namespace it may not
// see, whatever way the kernel came to the node. A path from MOUNT/ is
// checked by the root's Lookup (the kernel revalidates every top-level
// entry, since they time out at once); but a process can also start
// below the top: from /proc/<pid>/cwd or /proc/<pid>/fd/N of another
// tenant's process, from a descriptor passed to it, or from a dentry
// the kernel still holds for a name below a namespace. Those walks send
// no lookup of the namespace at all, only requests on node ids further
// down (LOOKUP in a table, OPEN, GETATTR, ...), so the check sits where
// every such request passes: here, between the kernel and the nodes.
//
// The kernel names nodes by node id, so isolatedFS learns the namespace
// of each id from the replies that hand ids out (an id below a
// namespace belongs to it, an id at the top to the namespace of that
// name) and forgets it as the kernel does (FORGET). An id it does not
// know is refused to all but an administrator. Requests on an open
// handle are not checked: the open was, and a descriptor passed on
// keeps working, as a passed descriptor of a System V segment mapping
// does.
//
// Attribute timeouts are set to 0 in every reply, so that a stat always
// comes here; entries below the top may stay cached, as reaching an
// entry without its attributes or an open gives nothing away.
type isolatedFS struct {
	*tenantFS

	// mu protects nodes.
	mu    sync.Mutex
	nodes map[uint64]*nodeTag
}

// nodeTag is the namespace of a node id the kernel holds, and how many
// lookups it holds it by.
type nodeTag struct {
	// ns is nil for self, which every caller may reach.
	ns      *nsmodel.Namespace
	lookups uint64
	// kernel marks a node below MOUNT/kernel, and kns the kernel
	// namespace it is in (0 for kernel/ and kernel/self): see
	// kernelTag and tenancy.seesKernel (kernel_tree.go).
	kernel bool
	kns    uint64
}

func newIsolatedFS(f *tenantFS) *isolatedFS {
	return &isolatedFS{tenantFS: f, nodes: make(map[uint64]*nodeTag)}
}

// may reports whether caller may send requests on node id.
func (f *isolatedFS) may(caller *fuse.Caller, id uint64) bool {
	if id == fuse.FUSE_ROOT_ID {
		return true
	}
	f.mu.Lock()
	tag := f.nodes[id]
	f.mu.Unlock()
	c := nsmodel.NewCred(caller.Uid, caller.Gid, int32(caller.Pid))
	switch {
	case tag == nil:
		return f.t.model.IsAdmin(c)
	case tag.kernel:
		return f.t.seesKernel(c, tag.kns)
	case tag.ns == nil:
		return true
	}
	return f.t.sees(c, tag.ns)
}

// learn records the node id an entry reply hands out, under parent.
func (f *isolatedFS) learn(parent uint64, name string, out *fuse.EntryOut) {
	if out.NodeId == 0 {
		return
	}
	out.SetAttrTimeout(0)
	var ns *nsmodel.Namespace
	f.mu.Lock()
	defer f.mu.Unlock()
	if kt, ok := kernelTag(parent, f.nodes[parent], name); ok {
		tag := f.nodes[out.NodeId]
		if tag == nil || !tag.kernel || tag.kns != kt.kns {
			tag = &kt
			f.nodes[out.NodeId] = tag
		}
		tag.lookups++
		return
	}
	if parent == fuse.FUSE_ROOT_ID {
		out.SetEntryTimeout(0)
		if name != selfName {
			ns = f.t.model.Get(name)
			if ns == nil || serialIno(ns.Serial()) != out.Attr.Ino {
				// Removed or remade meanwhile: leave the id unknown.
				return
			}
		}
	} else {
		p := f.nodes[parent]
		if p == nil || p.ns == nil {
			return
		}
		ns = p.ns
	}
	tag := f.nodes[out.NodeId]
	if tag == nil || tag.ns != ns {
		tag = &nodeTag{ns: ns}
		f.nodes[out.NodeId] = tag
	}
	tag.lookups++
}

func (f *isolatedFS) Forget(id, n uint64) {
	f.mu.Lock()
	if tag := f.nodes[id]; tag != nil {
		if tag.lookups <= n {
			delete(f.nodes, id)
		} else {
			tag.lookups -= n
		}
	}
	f.mu.Unlock()
	f.tenantFS.Forget(id, n)
}

func (f *isolatedFS) Lookup(cancel <-chan struct{}, h *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	if !f.may(&h.Caller, h.NodeId) {
		return fuse.ENOENT
	}
	st := f.tenantFS.Lookup(cancel, h, name, out)
	if st == fuse.OK && out.NodeId == 0 && h.NodeId == fuse.FUSE_ROOT_ID {
		// A negative entry at the top would be one caller's answer
		// given to all.
		return fuse.ENOENT
	}
	if st == fuse.OK {
		f.learn(h.NodeId, name, out)
	}
	return st
}

func (f *isolatedFS) GetAttr(cancel <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	if in.Flags()&fuse.FUSE_GETATTR_FH == 0 && !f.may(&in.Caller, in.NodeId) {
		return fuse.ENOENT
	}
	st := f.tenantFS.GetAttr(cancel, in, out)
	out.SetTimeout(0)
	return st
}

func (f *isolatedFS) Statx(cancel <-chan struct{}, in *fuse.StatxIn, out *fuse.StatxOut) fuse.Status {
	if in.GetattrFlags&fuse.FUSE_GETATTR_FH == 0 && !f.may(&in.Caller, in.NodeId) {
		return fuse.ENOENT
	}
	st := f.tenantFS.Statx(cancel, in, out)
	out.AttrValid, out.AttrValidNsec = 0, 0
	return st
}

func (f *isolatedFS) SetAttr(cancel <-chan struct{}, in *fuse.SetAttrIn, out *fuse.AttrOut) fuse.Status {
	if _, fh := in.GetFh(); !fh && !f.may(&in.Caller, in.NodeId) {
		return fuse.ENOENT
	}
	st := f.tenantFS.SetAttr(cancel, in, out)
	out.SetTimeout(0)
	return st
}

func (f *isolatedFS) Mknod(cancel <-chan struct{}, in *fuse.MknodIn, name string, out *fuse.EntryOut) fuse.Status {
	if !f.may(&in.Caller, in.NodeId) {
		return fuse.ENOENT
	}
	st := f.tenantFS.Mknod(cancel, in, name, out)
	if st == fuse.OK {
		f.learn(in.NodeId, name, out)
	}
	return st
}

func (f *isolatedFS) Mkdir(cancel <-chan struct{}, in *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	if !f.may(&in.Caller, in.NodeId) {
		return fuse.ENOENT
	}
	st := f.tenantFS.Mkdir(cancel, in, name, out)
	if st == fuse.OK {
		f.learn(in.NodeId, name, out)
	}
	return st
}

func (f *isolatedFS) Unlink(cancel <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	if !f.may(&h.Caller, h.NodeId) {
		return fuse.ENOENT
	}
	return f.tenantFS.Unlink(cancel, h, name)
}

func (f *isolatedFS) Rmdir(cancel <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	if !f.may(&h.Caller, h.NodeId) {
		return fuse.ENOENT
	}
	return f.tenantFS.Rmdir(cancel, h, name)
}

func (f *isolatedFS) Rename(cancel <-chan struct{}, in *fuse.RenameIn, oldName, newName string) fuse.Status {
	if !f.may(&in.Caller, in.NodeId) || !f.may(&in.Caller, in.Newdir) {
		return fuse.ENOENT
	}
	return f.tenantFS.Rename(cancel, in, oldName, newName)
}

func (f *isolatedFS) Link(cancel <-chan struct{}, in *fuse.LinkIn, name string, out *fuse.EntryOut) fuse.Status {
	if !f.may(&in.Caller, in.NodeId) || !f.may(&in.Caller, in.Oldnodeid) {
		return fuse.ENOENT
	}
	st := f.tenantFS.Link(cancel, in, name, out)
	if st == fuse.OK {
		f.learn(in.NodeId, name, out)
	}
	return st
}

func (f *isolatedFS) Symlink(cancel <-chan struct{}, h *fuse.InHeader, target, name string, out *fuse.EntryOut) fuse.Status {
	if !f.may(&h.Caller, h.NodeId) {
		return fuse.ENOENT
	}
	st := f.tenantFS.Symlink(cancel, h, target, name, out)
	if st == fuse.OK {
		f.learn(h.NodeId, name, out)
	}
	return st
}

func (f *isolatedFS) Readlink(cancel <-chan struct{}, h *fuse.InHeader) ([]byte, fuse.Status) {
	if !f.may(&h.Caller, h.NodeId) {
		return nil, fuse.ENOENT
	}
	return f.tenantFS.Readlink(cancel, h)
}

func (f *isolatedFS) Access(cancel <-chan struct{}, in *fuse.AccessIn) fuse.Status {
	if !f.may(&in.Caller, in.NodeId) {
		return fuse.ENOENT
	}
	return f.tenantFS.Access(cancel, in)
}

func (f *isolatedFS) GetXAttr(cancel <-chan struct{}, h *fuse.InHeader, attr string, dest []byte) (uint32, fuse.Status) {
	if !f.may(&h.Caller, h.NodeId) {
		return 0, fuse.ENOENT
	}
	return f.tenantFS.GetXAttr(cancel, h, attr, dest)
}

func (f *isolatedFS) ListXAttr(cancel <-chan struct{}, h *fuse.InHeader, dest []byte) (uint32, fuse.Status) {
	if !f.may(&h.Caller, h.NodeId) {
		return 0, fuse.ENOENT
	}
	return f.tenantFS.ListXAttr(cancel, h, dest)
}

func (f *isolatedFS) SetXAttr(cancel <-chan struct{}, in *fuse.SetXAttrIn, attr string, data []byte) fuse.Status {
	if !f.may(&in.Caller, in.NodeId) {
		return fuse.ENOENT
	}
	return f.tenantFS.SetXAttr(cancel, in, attr, data)
}

func (f *isolatedFS) RemoveXAttr(cancel <-chan struct{}, h *fuse.InHeader, attr string) fuse.Status {
	if !f.may(&h.Caller, h.NodeId) {
		return fuse.ENOENT
	}
	return f.tenantFS.RemoveXAttr(cancel, h, attr)
}

func (f *isolatedFS) Create(cancel <-chan struct{}, in *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	if !f.may(&in.Caller, in.NodeId) {
		return fuse.ENOENT
	}
	st := f.tenantFS.Create(cancel, in, name, out)
	if st == fuse.OK {
		f.learn(in.NodeId, name, &out.EntryOut)
	}
	return st
}

func (f *isolatedFS) Tmpfile(cancel <-chan struct{}, in *fuse.CreateIn, out *fuse.CreateOut) fuse.Status {
	if !f.may(&in.Caller, in.NodeId) {
		return fuse.ENOENT
	}
	st := f.tenantFS.Tmpfile(cancel, in, out)
	if st == fuse.OK {
		f.learn(in.NodeId, "", &out.EntryOut)
	}
	return st
}

func (f *isolatedFS) Open(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	if !f.may(&in.Caller, in.NodeId) {
		return fuse.ENOENT
	}
	return f.tenantFS.Open(cancel, in, out)
}

func (f *isolatedFS) OpenDir(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	if !f.may(&in.Caller, in.NodeId) {
		return fuse.ENOENT
	}
	return f.tenantFS.OpenDir(cancel, in, out)
}

// nodeFS is go-fuse's node file system as the server serves it, with two
// things go-fuse does not do.
//
// A node's Lookup can have the kernel remember that a name does not
// exist: a Lookup that fails with ENOENT after setting an entry timeout
// in its EntryOut is answered as a negative entry (node id 0) for that
// long. go-fuse knows only one negative timeout for the whole mount, and
// it stays 0 for the nodes that set none.
//
// A ctl command sees the effect of every close that reached the server
// before it (a detach, SEM_UNDO adjustments undone): the kernel sends a
// release without waiting for it, and go-fuse serves requests
// concurrently, so `close(fd)` then a command on ctl could otherwise be
// served in the other order.
type nodeFS struct {
	fuse.RawFileSystem
	m *mountState
}

func (fs *nodeFS) Lookup(cancel <-chan struct{}, h *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	st := fs.RawFileSystem.Lookup(cancel, h, name, out)
	if st == fuse.ENOENT && out.EntryTimeout() > 0 {
		*out = fuse.EntryOut{EntryValid: out.EntryValid, EntryValidNsec: out.EntryValidNsec}
		return fuse.OK
	}
	return st
}

func (fs *nodeFS) Release(cancel <-chan struct{}, in *fuse.ReleaseIn) {
	fs.m.releases.RLock()
	defer fs.m.releases.RUnlock()
	fs.RawFileSystem.Release(cancel, in)
}

func (fs *nodeFS) Read(cancel <-chan struct{}, in *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	fileFlags.Store(cancel, in.Flags)
	defer fileFlags.Delete(cancel)
	return fs.RawFileSystem.Read(cancel, in, buf)
}

// Writev is how go-fuse serves every WRITE (Write only after ENOSYS).
func (fs *nodeFS) Writev(cancel <-chan struct{}, in *fuse.WriteIn, data [][]byte) (uint32, fuse.Status) {
	fileFlags.Store(cancel, in.Flags)
	defer fileFlags.Delete(cancel)
	return fs.RawFileSystem.Writev(cancel, in, data)
}

// StatFs answers statfs(2) on any node of the mount. go-fuse leaves the
// reply zeroed for a node that does not answer itself, and a zero
// f_namelen made `getconf NAME_MAX` print 0. The names here are at most
// 64 bytes (a namespace) and 10 (an object's key), but a file system
// that says 255 is what programs expect; blocks are the machine's
// memory, where segments live, in pages, as tmpfs counts them.
func (fs *nodeFS) StatFs(cancel <-chan struct{}, in *fuse.InHeader, out *fuse.StatfsOut) fuse.Status {
	if st := fs.RawFileSystem.StatFs(cancel, in, out); st != fuse.OK {
		return st
	}
	if out.NameLen == 0 {
		out.NameLen = 255
	}
	if out.Bsize == 0 {
		page := uint64(unix.Getpagesize())
		out.Bsize, out.Frsize = uint32(page), uint32(page)
		var si unix.Sysinfo_t
		if unix.Sysinfo(&si) == nil {
			unit := uint64(si.Unit)
			out.Blocks = uint64(si.Totalram) * unit / page
			out.Bfree = uint64(si.Freeram+si.Bufferram) * unit / page
			out.Bavail = out.Bfree
		}
	}
	return fuse.OK
}
