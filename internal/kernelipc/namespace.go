package kernelipc

import (
	"sync"

	"golang.org/x/sys/unix"
)

// A Namespace is one kernel IPC namespace as the server reaches it: its
// nsfs file, held open while the Namespace is, and its serving threads.
// Every operation is the kernel's own call, made on one of those threads
// with the caller's credentials.
//
// Lock order: Manager.mu before Namespace.mu; a worker's job runs with
// neither held.
type Namespace struct {
	id NSID
	b  Bounds
	fd int // nsfs file; -1 once closed

	mu   sync.Mutex
	cond *sync.Cond // a pool thread went idle or ended

	idle          []*worker
	threads       int // pool threads alive, idle or busy
	blockers      int
	blockersByUID map[uint32]int
	undo          int
	undoByUID     map[uint32]int
	// holds counts what keeps the namespace in use: calls in flight,
	// attaches, SEM_UNDO handles. A namespace whose last process ended is
	// closed by Manager.Sweep only when it has none.
	holds  int
	closed bool
}

// ID is the namespace's nsfs inode number.
func (ns *Namespace) ID() NSID { return ns.id }

// close ends the idle threads and lets go of the nsfs file; busy threads
// end when their call returns (putIdle).
func (ns *Namespace) close() {
	ns.mu.Lock()
	if ns.closed {
		ns.mu.Unlock()
		return
	}
	ns.closed = true
	idle := ns.idle
	ns.idle = nil
	ns.threads -= len(idle)
	ns.cond.Broadcast()
	fd := ns.fd
	ns.fd = -1
	ns.mu.Unlock()
	for _, w := range idle {
		close(w.jobs)
	}
	unix.Close(fd)
}

// Manager holds the namespaces that the server has reached.
type Manager struct {
	b  Bounds
	mu sync.Mutex
	ns map[NSID]*Namespace
}

// NewManager makes a Manager whose namespaces have bounds b (zero fields
// take DefaultBounds). It needs root: setns into a namespace, and the
// per-thread credential changes, want CAP_SYS_ADMIN, CAP_SETUID and
// CAP_SETGID.
func NewManager(b Bounds) *Manager {
	return &Manager{b: b.withDefaults(), ns: make(map[NSID]*Namespace)}
}

// Get is namespace id, opened through a live process in it (pid is a
// hint: a process thought to be in it, or 0). ENOENT when no process
// holds it and the server does not already.
func (m *Manager) Get(id NSID, pid int32) (*Namespace, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ns := m.ns[id]; ns != nil {
		return ns, nil
	}
	fd, err := findNS(id, pid)
	if err != nil {
		return nil, err
	}
	ns := &Namespace{id: id, b: m.b, fd: fd,
		blockersByUID: make(map[uint32]int), undoByUID: make(map[uint32]int)}
	ns.cond = sync.NewCond(&ns.mu)
	m.ns[id] = ns
	return ns, nil
}

// Sweep closes the namespaces that hold no live process (live as Live
// gives it) and that nothing of the server uses, so the kernel can free
// them and their objects, as it does when their last process exits.
func (m *Manager) Sweep(live map[NSID]int32) {
	m.mu.Lock()
	var gone []*Namespace
	for id, ns := range m.ns {
		if _, ok := live[id]; ok {
			continue
		}
		ns.mu.Lock()
		busy := ns.holds > 0
		ns.mu.Unlock()
		if !busy {
			gone = append(gone, ns)
			delete(m.ns, id)
		}
	}
	m.mu.Unlock()
	for _, ns := range gone {
		ns.close()
	}
}

// Close closes every namespace.
func (m *Manager) Close() {
	m.mu.Lock()
	all := m.ns
	m.ns = make(map[NSID]*Namespace)
	m.mu.Unlock()
	for _, ns := range all {
		ns.close()
	}
}

// Threads is the number of pool threads of the namespace, idle and busy,
// and of SEM_UNDO threads, for tests and status.
func (ns *Namespace) Threads() (pool, undo int) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	return ns.threads, ns.undo
}
