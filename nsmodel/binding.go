package nsmodel

import (
	"fmt"
	"sort"

	"golang.org/x/sys/unix"
)

// binding ties a namespace to a kernel IPC namespace: processes of that
// kernel namespace find it as MOUNT/self.
type binding struct {
	file *kernelNSFile
	// auto is set for a namespace made by the first use from its kernel
	// namespace; it goes with that namespace. A namespace bound by an
	// administrator is only emptied and unbound.
	auto bool
}

// initBindings binds default to the server's own kernel IPC namespace,
// once. Without /proc no caller can be placed, and nothing is bound.
func (m *Model) initBindings() {
	m.bindOnce.Do(func() {
		f, err := openKernelNS("/proc/self/ns/ipc")
		if err != nil {
			return
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		m.server = f.k
		def := m.namespaces[DefaultNamespace]
		def.bind = &binding{file: f}
		m.bound[f.k] = def
	})
}

// ServerNS is the server's own kernel IPC namespace, bound to default
// for good; 0 when /proc could not tell.
func (m *Model) ServerNS() KernelNS {
	m.initBindings()
	return m.server
}

// Bound is the namespace bound to kernel namespace k, or nil.
func (m *Model) Bound(k KernelNS) *Namespace {
	m.initBindings()
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bound[k]
}

// IsAdmin reports whether c is privileged in the initial namespaces, as
// far as this server can see them: in the server's kernel IPC namespace
// and holding CAP_SYS_ADMIN in the server's user namespace. Only such a
// caller binds, unbinds, and sets the limits of a tenant. Root of a
// container (a child IPC namespace) is not, whatever its capabilities.
func (m *Model) IsAdmin(c *Cred) bool {
	k, err := KernelNSOf(c.PID)
	return err == nil && m.IsAdminIn(c, k)
}

// IsAdminIn is IsAdmin for a caller known to be in kernel namespace k.
func (m *Model) IsAdminIn(c *Cred, k KernelNS) bool {
	s := m.ServerNS()
	return s != 0 && k == s && c.Capable(CapSysAdmin)
}

// NamespaceOf is the namespace bound to the kernel IPC namespace of
// process pid. With create, the first use from a kernel namespace that
// has none makes one with default limits, named after it (ipc-N, or
// ipc-N.2 and on when an administrator took that name) and bound to it
// until it ends; created says that this call made it. Without create,
// ENOENT when there is none; ESRCH for a process the server cannot see.
func (m *Model) NamespaceOf(pid int32, create bool) (ns *Namespace, created bool, err error) {
	k, err := KernelNSOf(pid)
	if err != nil {
		return nil, false, err
	}
	if ns := m.Bound(k); ns != nil {
		return ns, false, nil
	}
	if !create {
		return nil, false, unix.ENOENT
	}
	f, err := openKernelNS(procNSPath(pid))
	if err != nil {
		return nil, false, unix.ESRCH
	}
	// f.k is where the process is now, which is what it asked about.
	m.mu.Lock()
	defer m.mu.Unlock()
	if ns := m.bound[f.k]; ns != nil {
		f.close()
		return ns, false, nil
	}
	name := f.k.AutoName()
	for i := 2; m.namespaces[name] != nil; i++ {
		name = fmt.Sprintf("%s.%d", f.k.AutoName(), i)
	}
	ns = m.newNamespace(name)
	ns.bind = &binding{file: f, auto: true}
	m.namespaces[name] = ns
	m.bound[f.k] = ns
	m.logNS(ns)
	return ns, true, nil
}

// BindPid binds ns to the kernel IPC namespace of process pid, as the
// server's /proc numbers processes: ESRCH when there is no such process.
func (m *Model) BindPid(c *Cred, ns *Namespace, pid int32) error {
	if !m.IsAdmin(c) {
		return unix.EPERM
	}
	if pid <= 0 {
		return unix.ESRCH
	}
	f, err := openKernelNS(procNSPath(pid))
	if err != nil {
		return unix.ESRCH
	}
	return m.bind(ns, f)
}

// BindPath binds ns to the kernel IPC namespace whose nsfs file is at
// path (a /proc/<pid>/ns/ipc, or a bind mount of one), opened by the
// server in its own mount namespace: the open's errno when it fails,
// EINVAL when the file is not an IPC namespace.
func (m *Model) BindPath(c *Cred, ns *Namespace, path string) error {
	if !m.IsAdmin(c) {
		return unix.EPERM
	}
	f, err := openKernelNS(path)
	if err != nil {
		return err
	}
	return m.bind(ns, f)
}

// bind ties ns to f: EBUSY when either is bound already, ENOENT when ns
// was removed meanwhile. It takes f, and closes it on failure.
func (m *Model) bind(ns *Namespace, f *kernelNSFile) error {
	m.initBindings()
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.namespaces[ns.Name] != ns:
		f.close()
		return unix.ENOENT
	case ns.bind != nil || m.bound[f.k] != nil:
		f.close()
		return unix.EBUSY
	}
	ns.bind = &binding{file: f}
	m.bound[f.k] = ns
	m.logNS(ns)
	return nil
}

// Unbind cuts ns from its kernel namespace; ns stays, objects and all,
// as a namespace reached by name only. EINVAL when it is not bound,
// EBUSY for the server's own binding of default.
func (m *Model) Unbind(c *Cred, ns *Namespace) error {
	if !m.IsAdmin(c) {
		return unix.EPERM
	}
	m.initBindings()
	m.mu.Lock()
	defer m.mu.Unlock()
	b := ns.bind
	switch {
	case b == nil:
		return unix.EINVAL
	case b.file.k == m.server:
		return unix.EBUSY
	}
	delete(m.bound, b.file.k)
	ns.bind = nil
	m.logNS(ns)
	b.file.close()
	return nil
}

// Binding says which kernel namespace ns is bound to, and whether ns was
// made by its first use.
func (ns *Namespace) Binding() (k KernelNS, auto, ok bool) {
	ns.model.mu.Lock()
	defer ns.model.mu.Unlock()
	if ns.bind == nil {
		return 0, false, false
	}
	return ns.bind.file.k, ns.bind.auto, true
}

// tenant reports whether ns is bound to a kernel namespace other than
// the server's. m.mu is held.
func (ns *Namespace) tenant() bool {
	return ns.bind != nil && ns.bind.file.k != ns.model.server
}

// Watched lists the bound kernel namespaces that can end: all but the
// server's own.
func (m *Model) Watched() []KernelNS {
	m.initBindings()
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []KernelNS
	for k := range m.bound {
		if k != m.server {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// End is what the kernel does when the last process of kernel namespace
// k is gone (free_ipc_ns): every object of the namespace bound to it is
// removed as IPC_RMID removes it, so a segment still attached lives
// until its last detach and blocked callers of queues and sets wake
// with EIDRM. A namespace made by first use goes with it, name and
// all; one an administrator bound stays, empty and unbound. End returns
// the namespace, or nil when k was not bound, whether it is gone, and
// the objects it removed.
func (m *Model) End(k KernelNS) (ns *Namespace, removed bool, objs []EndedObject) {
	m.mu.Lock()
	ns = m.bound[k]
	if ns == nil || k == m.server {
		m.mu.Unlock()
		return nil, false, nil
	}
	b := ns.bind
	delete(m.bound, k)
	ns.bind = nil
	if b.auto {
		delete(m.namespaces, ns.Name)
		ns.kill()
		m.logNSGone(ns.Name)
	} else {
		m.logNS(ns)
	}
	m.mu.Unlock()
	b.file.close()
	return ns, b.auto, ns.empty()
}

// EndedObject is an object that End removed: its table (a *ShmTable,
// *MsgTable or *SemTable) and the name its file had.
type EndedObject struct {
	Table any
	Name  string
}

// kill marks the id tables dead whatever they hold, so that nothing is
// made in them once their namespace is gone. Lock order as in retire.
func (ns *Namespace) kill() {
	regs := []*Registry{&ns.Shm.Registry, &ns.Msg.Registry, &ns.Sem.Registry}
	for _, r := range regs {
		r.mu.Lock()
		defer r.mu.Unlock()
	}
	for _, r := range regs {
		r.dead = true
	}
}

// empty removes every object, as the server's own IPC_RMID, and says
// which it removed.
func (ns *Namespace) empty() []EndedObject {
	root := RootCred()
	var out []EndedObject
	for _, t := range []interface{ rmidAll(*Cred) []string }{ns.Shm, ns.Msg, ns.Sem} {
		for _, name := range t.rmidAll(root) {
			out = append(out, EndedObject{t, name})
		}
	}
	return out
}
