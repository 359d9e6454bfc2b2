package fs

import (
	"bytes"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/nsmodel"
)

// survivors are the attaches of mappings that outlived an earlier server
// of the mount: a server restarted after a crash (docs/crash.md) finds
// them in /proc/<pid>/maps under the old mount's device and the
// segment's inode number (which a restored segment keeps), counts each
// as an attach, and ends it when the mapping goes, as heldMaps does for
// its own. The list is empty but after a crash that left mappings.
type survivors struct {
	// mu protects list; it is taken before any table's lock.
	mu   sync.Mutex
	list []survivor
}

type survivor struct {
	t   *nsmodel.ShmTable
	s   *nsmodel.Shm
	pid int32
	dev uint64
	ino uint64
}

// Survivors are the mappings that outlived the servers before this one,
// found before the mount serves (FindSurvivors) and watched by it from
// then on (Config.Survivors).
type Survivors struct {
	sv *survivors
	// Live are the devices that still show a mapping: those a later
	// restart must look for. N is how many mappings were found.
	Live []uint64
	N    int
}

// FindSurvivors counts as attaches the mappings of model's segments
// that every process has under one of devs, the devices (unix.Mkdev) of
// earlier servers' mounts.
func FindSurvivors(model *nsmodel.Model, devs []uint64) *Survivors {
	want := make(map[uint64]bool, len(devs))
	for _, d := range devs {
		want[d] = true
	}
	type key struct {
		pid      int32
		dev, ino uint64
	}
	found := make(map[key]int)
	if len(want) > 0 {
		procs, _ := os.ReadDir("/proc")
		self := os.Getpid()
		for _, p := range procs {
			pid, err := strconv.Atoi(p.Name())
			if err != nil || pid == self {
				continue
			}
			for dev, inos := range mapsOn(int32(pid), want) {
				for ino, n := range inos {
					found[key{int32(pid), dev, ino}] += n
				}
			}
		}
	}
	// Segments by inode number, removed ones included.
	type seg struct {
		t *nsmodel.ShmTable
		s *nsmodel.Shm
	}
	byIno := make(map[uint64]seg)
	for _, name := range model.Names() {
		ns := model.Get(name)
		if ns == nil {
			continue
		}
		for _, st := range ns.Shm.Stats() {
			if s, err := ns.Shm.Lookup(nsmodel.Ref{ByID: true, ID: st.ID}); err == nil {
				byIno[serialIno(s.Serial())] = seg{ns.Shm, s}
			}
		}
	}
	out := &Survivors{sv: &survivors{}}
	inUse := make(map[uint64]bool)
	for k, n := range found {
		g, ok := byIno[k.ino]
		if !ok {
			continue
		}
		inUse[k.dev] = true
		for range n {
			g.t.Survive(g.s)
			out.sv.list = append(out.sv.list, survivor{t: g.t, s: g.s, pid: k.pid, dev: k.dev, ino: k.ino})
		}
	}
	for _, d := range devs {
		if inUse[d] {
			out.Live = append(out.Live, d)
		}
	}
	out.N = len(out.sv.list)
	return out
}

// Dev is the device number of the mount, as /proc/<pid>/maps shows it
// for a mapping of a segment.
func (m *Mount) Dev() uint64 { return m.dev }

// settle ends the surviving attaches whose mappings are gone, of s only
// if s is not nil, of removed segments only if removed. A nil list has
// none.
func (sv *survivors) settle(s *nsmodel.Shm, removed bool) {
	if sv == nil {
		return
	}
	sv.mu.Lock()
	defer sv.mu.Unlock()
	if len(sv.list) == 0 {
		return
	}
	devs := make(map[uint64]bool)
	for _, h := range sv.list {
		devs[h.dev] = true
	}
	maps := make(map[int32]map[uint64]map[uint64]int)
	keep := sv.list[:0]
	for _, h := range sv.list {
		if (s != nil && h.s != s) || (removed && h.t.Stat(h.s).Mode&nsmodel.ShmDest == 0) {
			keep = append(keep, h)
			continue
		}
		m, ok := maps[h.pid]
		if !ok {
			m = mapsOn(h.pid, devs)
			maps[h.pid] = m
		}
		if m[h.dev][h.ino] > 0 {
			m[h.dev][h.ino]--
			keep = append(keep, h)
			continue
		}
		h.t.Detach(h.s, h.pid)
	}
	clear(sv.list[len(keep):])
	sv.list = keep
}

// mapsOn counts pid's mappings of each inode on each device of devs.
func mapsOn(pid int32, devs map[uint64]bool) map[uint64]map[uint64]int {
	out := make(map[uint64]map[uint64]int)
	data, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/maps")
	if err != nil {
		return out
	}
	for line := range bytes.Lines(data) {
		// address perms offset dev inode path
		f := bytes.Fields(line)
		if len(f) < 5 {
			continue
		}
		maj, min, ok := bytes.Cut(f[3], []byte(":"))
		if !ok {
			continue
		}
		ma, err1 := strconv.ParseUint(string(maj), 16, 32)
		mi, err2 := strconv.ParseUint(string(min), 16, 32)
		ino, err3 := strconv.ParseUint(string(f[4]), 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || ino == 0 {
			continue
		}
		dev := unix.Mkdev(uint32(ma), uint32(mi))
		if !devs[dev] {
			continue
		}
		if out[dev] == nil {
			out[dev] = make(map[uint64]int)
		}
		out[dev][ino]++
	}
	return out
}
