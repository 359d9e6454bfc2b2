package fs

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync"

	"github.com/shmfs/shmfs/nsmodel"
)

// heldMaps keeps the attaches that outlive their handle under
// passthrough. There a mapping refers to the memfd through a backing
// file of its own rather than to the FUSE file it was made from, so the
// kernel releases the handle at the last close(2) even while the process
// still maps the segment. Such an attach stays counted until the
// process's /proc/<pid>/maps no longer shows the segment, as shm_close
// would end it; the check runs whenever something is about to look at
// nattch, so no one sees the difference.
//
// Only the process that opened the segment is watched: a mapping
// inherited by a child that outlives its parent's is not counted.
type heldMaps struct {
	// dev is the mount's device as /proc/<pid>/maps prints it
	// ("00:2a"); a mapping of a segment shows it with the segment's
	// inode number.
	dev []byte

	// mu protects held. It is taken before any table's lock.
	mu   sync.Mutex
	held []heldAttach
}

type heldAttach struct {
	t   *nsmodel.ShmTable
	s   *nsmodel.Shm
	pid int32
	ino uint64
}

func newHeldMaps(major, minor uint32) *heldMaps {
	return &heldMaps{dev: fmt.Appendf(nil, "%02x:%02x", major, minor)}
}

// release ends an attach whose handle the kernel released, unless the
// process that made it still maps the segment.
func (w *heldMaps) release(t *nsmodel.ShmTable, s *nsmodel.Shm, pid int32, ino uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if pid > 0 && w.mappings(pid)[ino] > w.heldBy(pid, ino) {
		w.held = append(w.held, heldAttach{t: t, s: s, pid: pid, ino: ino})
		return
	}
	t.Detach(s, pid)
}

// heldBy counts the attaches already held for pid's mappings of ino.
// w.mu is held.
func (w *heldMaps) heldBy(pid int32, ino uint64) int {
	n := 0
	for _, h := range w.held {
		if h.pid == pid && h.ino == ino {
			n++
		}
	}
	return n
}

// settle ends the held attaches of segment s (of every segment if s is
// nil) whose mappings are gone: a process keeps as many as it still has
// mappings of the segment.
func (w *heldMaps) settle(s *nsmodel.Shm) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.held) == 0 {
		return
	}
	maps := make(map[int32]map[uint64]int)
	keep := w.held[:0]
	var gone []heldAttach
	for _, h := range w.held {
		if s != nil && h.s != s {
			keep = append(keep, h)
			continue
		}
		m, ok := maps[h.pid]
		if !ok {
			m = w.mappings(h.pid)
			maps[h.pid] = m
		}
		if m[h.ino] > 0 {
			m[h.ino]--
			keep = append(keep, h)
		} else {
			gone = append(gone, h)
		}
	}
	clear(w.held[len(keep):])
	w.held = keep
	for _, h := range gone {
		h.t.Detach(h.s, h.pid)
	}
}

// mappings counts pid's mappings of each inode of this mount; a process
// that is gone has none.
func (w *heldMaps) mappings(pid int32) map[uint64]int {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/maps")
	out := make(map[uint64]int)
	if err != nil {
		return out
	}
	for line := range bytes.Lines(data) {
		// address perms offset dev inode path
		f := bytes.Fields(line)
		if len(f) < 5 || !bytes.Equal(f[3], w.dev) {
			continue
		}
		if ino, err := strconv.ParseUint(string(f[4]), 10, 64); err == nil {
			out[ino]++
		}
	}
	return out
}
