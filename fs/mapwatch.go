package fs

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/nsmodel"
)

// heldMaps keeps the attaches that outlive their handle under
// passthrough. There a mapping refers to the memfd through a backing
// file of its own rather than to the FUSE file it was made from, so the
// kernel releases the handle at the last close(2) even while the process
// still maps the segment. Such an attach stays counted until the
// process's /proc/<pid>/maps no longer shows the segment, as shm_close
// would end it.
//
// A release only records the attach as held; the maps are read when
// something is about to look at nattch or act on it (settle), once per
// process however many of its attaches are held, so that an open and
// close costs no read of the maps. No one sees the difference, with
// three exceptions handled here: a removed (SHM_DEST) segment is settled
// at each release, so its pages go with its last detach; the held
// attaches of removed segments are settled before a create, which they
// would otherwise hold an id and pages from; and the list is settled
// whole when it has doubled, so it stays as long as the attaches that
// are really held.
//
// Only the process that opened the segment is watched (its thread group,
// whichever thread opened it): a mapping inherited by a child that
// outlives its parent's is not counted.
type heldMaps struct {
	// dev is the mount's device as /proc/<pid>/maps prints it
	// ("00:2a"); a mapping of a segment shows it with the segment's
	// inode number.
	dev []byte

	// mu protects held, removedN and next. It is taken before any
	// table's lock.
	mu   sync.Mutex
	held []heldAttach
	// removedN counts the entries of held marked removed.
	removedN int
	// next is the length of held at which a release settles it whole.
	next int
}

type heldAttach struct {
	t   *nsmodel.ShmTable
	s   *nsmodel.Shm
	pid int32
	ino uint64
	// removed: the segment is marked SHM_DEST.
	removed bool
}

// heldBatch is how many releases may wait for a look at the maps beyond
// the attaches found held at the last full settle.
const heldBatch = 1024

func newHeldMaps(major, minor uint32) *heldMaps {
	return &heldMaps{dev: fmt.Appendf(nil, "%02x:%02x", major, minor), next: heldBatch}
}

// process is the process of thread tid, the opener of an attach: its
// maps are the ones to watch, for a mapping belongs to the process and
// outlives a thread that ends after it made it. tid is alive, in the
// open being served. pidfd_open refuses a thread that does not lead its
// group, so a single-threaded opener costs no read of /proc. On a nil w
// (no passthrough, no maps to watch) it is tid.
func (w *heldMaps) process(tid int32) int32 {
	if w == nil || tid <= 0 {
		return tid
	}
	if fd, err := unix.PidfdOpen(int(tid), 0); err == nil {
		unix.Close(fd)
		return tid
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(int(tid)) + "/status")
	if err != nil {
		return tid
	}
	for line := range bytes.Lines(data) {
		if v, ok := bytes.CutPrefix(line, []byte("Tgid:")); ok {
			if pid, err := strconv.Atoi(string(bytes.TrimSpace(v))); err == nil && pid > 0 {
				return int32(pid)
			}
			break
		}
	}
	return tid
}

// release is told that the kernel released a handle of s opened by pid:
// the attach ends when a look at pid's maps finds no mapping of s left
// for it.
func (w *heldMaps) release(t *nsmodel.ShmTable, s *nsmodel.Shm, pid int32, ino uint64) {
	if pid <= 0 {
		t.Detach(s, pid)
		return
	}
	w.mu.Lock()
	// With shm_rmid_forced set any last detach destroys (rmid_forced.go).
	removed := t.Stat(s).Mode&nsmodel.ShmDest != 0 || t.RmidForced()
	w.held = append(w.held, heldAttach{t: t, s: s, pid: pid, ino: ino, removed: removed})
	if removed {
		w.removedN++
	}
	full := len(w.held) >= w.next
	w.mu.Unlock()
	switch {
	case removed:
		w.settle(s)
	case full:
		w.settle(nil)
	}
}

// removed marks the held attaches of s, just removed, to be settled
// before every create.
func (w *heldMaps) removed(s *nsmodel.Shm) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range w.held {
		if h := &w.held[i]; h.s == s && !h.removed {
			h.removed = true
			w.removedN++
		}
	}
}

// settle ends the held attaches of segment s (of every segment if s is
// nil) whose mappings are gone: a process keeps as many as it still has
// mappings of the segment.
func (w *heldMaps) settle(s *nsmodel.Shm) {
	w.settleWhere(func(h *heldAttach) bool { return s == nil || h.s == s })
	if s == nil {
		w.mu.Lock()
		w.next = 2*len(w.held) + heldBatch
		w.mu.Unlock()
	}
}

// settleRemoved ends the held attaches of removed segments whose
// mappings are gone.
func (w *heldMaps) settleRemoved() {
	w.mu.Lock()
	none := w.removedN == 0
	w.mu.Unlock()
	if !none {
		w.settleWhere(func(h *heldAttach) bool { return h.removed })
	}
}

func (w *heldMaps) settleWhere(match func(*heldAttach) bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var maps map[int32]map[uint64]int
	keep := w.held[:0]
	for _, h := range w.held {
		if !match(&h) {
			keep = append(keep, h)
			continue
		}
		m, ok := maps[h.pid]
		if !ok {
			if maps == nil {
				maps = make(map[int32]map[uint64]int)
			}
			m = w.mappings(h.pid)
			maps[h.pid] = m
		}
		if m[h.ino] > 0 {
			m[h.ino]--
			keep = append(keep, h)
			continue
		}
		if h.removed {
			w.removedN--
		}
		// The table's lock is taken after w.mu, as everywhere.
		h.t.Detach(h.s, h.pid)
	}
	clear(w.held[len(keep):])
	w.held = keep
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
		var f [5][]byte
		n := 0
		for rest := line; n < 5; n++ {
			rest = bytes.TrimLeft(rest, " ")
			end := bytes.IndexAny(rest, " \n")
			if end < 0 {
				end = len(rest)
			}
			f[n], rest = rest[:end], rest[end:]
		}
		if !bytes.Equal(f[3], w.dev) {
			continue
		}
		var ino uint64
		for _, c := range f[4] {
			ino = ino*10 + uint64(c-'0')
		}
		out[ino]++
	}
	return out
}
