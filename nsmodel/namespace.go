package nsmodel

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Namespace is one IPC namespace: its limits and its three id tables.
type Namespace struct {
	Name   string
	serial uint64

	Shm *ShmTable
	Msg *MsgTable
	Sem *SemTable

	model *Model
	// bind is the kernel IPC namespace this one is bound to, or nil;
	// protected by model.mu.
	bind *binding

	// mu protects limits.
	mu     sync.Mutex
	limits Limits
}

// Serial is unique across the model, for use as an inode number.
func (ns *Namespace) Serial() uint64 { return ns.serial }

// Limits returns a copy of the namespace's limits.
func (ns *Namespace) Limits() Limits {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	return ns.limits
}

// SetLimit writes one limit, as a write to /proc/sys/kernel/<name>.
// Those files are mode 0644 and owned by the namespace's root, and
// proc_sys_permission consults no capability: euid 0 may write, anyone
// else gets EACCES. Parse says what a write may hold; ControlNames are
// written as setControl says.
func (ns *Namespace) SetLimit(c *Cred, name, text string) error {
	if isControl(name) {
		return ns.setControl(c, name, text)
	}
	if !ns.MayWriteLimits(c) {
		return unix.EACCES
	}
	ns.mu.Lock()
	defer ns.mu.Unlock()
	l := ns.limits
	if err := l.Parse(name, text); err != nil {
		return err
	}
	ns.limits = l
	ns.logLimits()
	return nil
}

// MayWriteLimits is the permission check of /proc/sys/kernel/shm*,
// msg* and sem: the caller's euid is root.
func MayWriteLimits(c *Cred) bool { return c.UID == 0 }

// MayWriteLimits is MayWriteLimits for this namespace. The limits of a
// tenant's namespace (one bound to a kernel IPC namespace other than the
// server's), and of every namespace of a model that takes limits as
// quotas, are set by an administrator (IsAdmin) only: root inside a
// container must not raise its own quota.
func (ns *Namespace) MayWriteLimits(c *Cred) bool {
	if !MayWriteLimits(c) {
		return false
	}
	ns.model.initBindings()
	ns.model.mu.Lock()
	quota := ns.model.quotas || ns.tenant()
	ns.model.mu.Unlock()
	return !quota || ns.model.IsAdmin(c)
}

// Empty reports whether the namespace holds no object of any kind.
func (ns *Namespace) Empty() bool {
	return ns.Shm.InUse() == 0 && ns.Msg.InUse() == 0 && ns.Sem.InUse() == 0
}

// Model is every namespace that one shmfs mount serves.
type Model struct {
	// NewPages makes the page store of a new segment.
	NewPages PageFactory
	// Now is the clock for the *_time fields; tests may replace it.
	Now func() int64
	// Gone, when set, is told of each object that went without a
	// request on its name: a segment that shm_rmid_forced destroyed.
	// It is called with the table's lock held and must not block.
	Gone func(table any, name string)

	// mu protects namespaces, bound, quotas and every namespace's bind.
	mu         sync.Mutex
	namespaces map[string]*Namespace
	// bound maps each kernel IPC namespace that has a binding to its
	// namespace.
	bound map[KernelNS]*Namespace
	// server is the server's own kernel IPC namespace, set once by
	// initBindings.
	server   KernelNS
	bindOnce sync.Once
	// quotas makes every namespace's limits an administrator's to set.
	quotas bool

	memlock memlock

	// journal receives the model's records (journal.go); nil: none.
	journal Journal
	// mapDevs and oldBinds are what a restored model remembers of the
	// servers before it (persist.go); protected by mu.
	mapDevs  []uint64
	oldBinds map[string]oldBind

	// shared is set by SharePages.
	shared atomic.Bool

	// down is the error of Shutdown, nil until it is called.
	down atomic.Pointer[error]
}

// DefaultNamespace exists from the start and cannot be removed.
const DefaultNamespace = "default"

// NewModel returns a model holding just the default namespace.
func NewModel(pages PageFactory) *Model {
	m := &Model{
		NewPages:   pages,
		Now:        func() int64 { return time.Now().Unix() },
		namespaces: make(map[string]*Namespace),
		bound:      make(map[KernelNS]*Namespace),
	}
	m.namespaces[DefaultNamespace] = m.newNamespace(DefaultNamespace)
	startExitWatch()
	return m
}

func (m *Model) newNamespace(name string) *Namespace {
	ns := &Namespace{Name: name, serial: nextSerial(), model: m, limits: DefaultLimits()}
	ns.Shm = newShmTable(ns)
	ns.Msg = newMsgTable(ns)
	ns.Sem = newSemTable(ns)
	return ns
}

// ValidName reports whether name may name a namespace: 1 to 64 of
// [A-Za-z0-9._-], not starting with a dot.
func ValidName(name string) bool {
	if len(name) < 1 || len(name) > 64 || name[0] == '.' {
		return false
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
		if !ok {
			return false
		}
	}
	return true
}

// Create makes a namespace: EINVAL for a bad name, EEXIST for a taken one.
func (m *Model) Create(name string) (*Namespace, error) {
	if !ValidName(name) {
		return nil, unix.EINVAL
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.namespaces[name]; ok {
		return nil, unix.EEXIST
	}
	ns := m.newNamespace(name)
	m.namespaces[name] = ns
	m.logNS(ns)
	return ns, nil
}

// SetQuotas makes every namespace's limits quotas that only an
// administrator sets (see Namespace.MayWriteLimits).
func (m *Model) SetQuotas() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.quotas = true
	m.logQuotas()
}

// Get returns the namespace called name, or nil.
func (m *Model) Get(name string) *Namespace {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.namespaces[name]
}

// Names lists the namespaces in name order.
func (m *Model) Names() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.namespaces))
	for n := range m.namespaces {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Remove deletes an empty namespace: ENOENT if there is none, EBUSY for
// the default one and for a bound one, ENOTEMPTY while it holds objects. The emptiness check
// and the retirement of the three tables happen under all their locks at
// once, so a create racing with the removal either lands first (and the
// removal fails with ENOTEMPTY) or finds the tables retired (and fails
// with ENOENT, as a create in a removed directory does).
func (m *Model) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ns, ok := m.namespaces[name]
	if !ok {
		return unix.ENOENT
	}
	if name == DefaultNamespace || ns.bind != nil {
		return unix.EBUSY
	}
	if !ns.retire() {
		return unix.ENOTEMPTY
	}
	delete(m.namespaces, name)
	m.logNSGone(name)
	return nil
}

// retire marks the id tables dead if all three are empty, and reports
// whether it did. Lock order: Shm, Msg, Sem, each table's Registry.mu.
func (ns *Namespace) retire() bool {
	regs := []*Registry{&ns.Shm.Registry, &ns.Msg.Registry, &ns.Sem.Registry}
	for _, r := range regs {
		r.mu.Lock()
		defer r.mu.Unlock()
	}
	for _, r := range regs {
		if r.inUse != 0 {
			return false
		}
	}
	for _, r := range regs {
		r.dead = true
	}
	return true
}
