package nsmodel

import "sync"

// memlock counts the pages each user has pinned with SHM_LOCK, as the
// kernel's UCOUNT_RLIMIT_MEMLOCK does, across every namespace.
type memlock struct {
	// mu protects byUID.
	mu    sync.Mutex
	byUID map[uint32]uint64
}

func (m *Model) pin(uid uint32, n uint64) {
	m.memlock.mu.Lock()
	defer m.memlock.mu.Unlock()
	if m.memlock.byUID == nil {
		m.memlock.byUID = make(map[uint32]uint64)
	}
	m.memlock.byUID[uid] += n
}

func (m *Model) unpin(uid uint32, n uint64) {
	m.memlock.mu.Lock()
	defer m.memlock.mu.Unlock()
	m.memlock.byUID[uid] -= min(n, m.memlock.byUID[uid])
}

func (m *Model) pinned(uid uint32) uint64 {
	m.memlock.mu.Lock()
	defer m.memlock.mu.Unlock()
	return m.memlock.byUID[uid]
}
