package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// measureScale fills one shmfs table and one /dev/shm directory with idle
// segments (created, sized 4 KiB, closed, never touched) up to each size
// of cfg.scale in turn, and at each size measures ls -l of both,
// alternating, and the server's resident memory and descriptors against
// what it had before the first segment.
func (b *bench) measureScale() ([]Result, error) {
	sizes := b.cfg.scale
	top := sizes[len(sizes)-1]
	if top > 4096 {
		// shmmni of the namespace; root may raise it in the mount.
		lim := filepath.Join(b.mnt, "default", "limits", "shmmni")
		if err := os.WriteFile(lim, []byte(strconv.Itoa(top)), 0); err != nil {
			return nil, fmt.Errorf("raising %s to %d: %v", lim, top, err)
		}
	}
	dev := filepath.Join(b.devshm, "table")
	if err := os.Mkdir(dev, 0o755); err != nil {
		return nil, err
	}
	// Serve a small table once before the baseline, so that what the
	// server allocates for its first requests (request buffers, reader
	// goroutines) is not counted against the segments. It is a table
	// of its own namespace, kept until the end: removed, it would leave
	// garbage whose pages the Go runtime gives back while the big table
	// is measured, which would count them for the segments.
	warmNS := filepath.Join(b.mnt, "benchwarm")
	if err := os.Mkdir(warmNS, 0o755); err != nil {
		return nil, err
	}
	warmShm := filepath.Join(warmNS, "shm")
	warm := min(sizes[0], 256)
	wbase := strconv.Itoa(int(b.fresh(warm)))
	defer func() {
		b.run(nil, "remove", warmShm, wbase, strconv.Itoa(warm))
		os.Remove(warmNS)
	}()
	if _, err := b.run(nil, "create", warmShm, wbase, strconv.Itoa(warm), "keep"); err != nil {
		return nil, err
	}
	if _, err := b.run(nil, "ls", warmShm); err != nil {
		return nil, err
	}
	rss0, fds0, err := b.serverStatus()
	if err != nil {
		return nil, err
	}
	base := b.fresh(top)
	defer func() {
		b.run(nil, "remove", b.shm, strconv.Itoa(int(base)), strconv.Itoa(top))
		os.RemoveAll(dev)
	}()
	var rows []Result
	perEntry := map[int][2]float64{} // ls -l time per entry, shmfs and /dev/shm
	have := 0
	for _, n := range sizes {
		from, count := strconv.Itoa(int(base)+have), strconv.Itoa(n-have)
		if _, err := b.run(nil, "create", b.shm, from, count, "keep"); err != nil {
			return nil, fmt.Errorf("filling the shmfs table to %d segments: %v", n, err)
		}
		if _, err := b.run(nil, "create", dev, from, count, "keep"); err != nil {
			return nil, fmt.Errorf("filling %s to %d files: %v", dev, n, err)
		}
		have = n
		var shmfs, kernel []map[string]float64
		for r := 0; r < b.cfg.runs; r++ {
			sides := [2]string{b.shm, dev}
			if r%2 == 1 {
				sides[0], sides[1] = sides[1], sides[0]
			}
			for _, dir := range sides {
				res, err := b.run(nil, "ls", dir)
				if err != nil {
					return nil, err
				}
				if int(res["entries"]) < n {
					return nil, fmt.Errorf("ls -l %s: %v entries, want %d", dir, res["entries"], n)
				}
				if dir == b.shm {
					shmfs = append(shmfs, res)
				} else {
					kernel = append(kernel, res)
				}
			}
		}
		ls := rowResult(row{op: fmt.Sprintf("ls -l of %d segments", n), metric: "ns", kernel: "/dev/shm", unit: msec}, shmfs, kernel)
		rows = append(rows, ls)
		perEntry[n] = [2]float64{ls.Shmfs / float64(n), *ls.Kernel / float64(n)}

		rss, fds, err := b.serverStatus()
		if err != nil {
			return nil, err
		}
		rows = append(rows,
			valueRow(fmt.Sprintf("server memory per idle segment, %d", n), "B", float64(rss)-float64(rss0), n, valueAtMost(2048, "B")),
			valueRow(fmt.Sprintf("server fds per segment, %d", n), "fds", float64(fds-fds0), n, valueAtMost(1, "")))
	}
	if len(sizes) > 1 {
		lo, hi := sizes[0], sizes[len(sizes)-1]
		s := perEntry[hi][0] / perEntry[lo][0]
		k := perEntry[hi][1] / perEntry[lo][1]
		t := valueAtMost(1.5, "")
		met := t.met(s)
		ratio := s / k
		rows = append(rows, Result{
			Op: fmt.Sprintf("ls -l time per entry, %d ÷ %d", hi, lo), Unit: "×",
			Shmfs: s, Kernel: &k, KernelPath: "/dev/shm", Ratio: &ratio, Target: t.String() + " (linear)", Met: &met,
			ShmfsRuns: []float64{s}, KernelRuns: []float64{k},
		})
	}
	return rows, nil
}

// valueRow is a figure of the server alone, per segment.
func valueRow(op, unit string, total float64, n int, t target) Result {
	v := total / float64(n)
	met := t.met(v)
	return Result{Op: op, Unit: unit, Shmfs: v, Target: t.String(), Met: &met, ShmfsRuns: []float64{v}}
}
