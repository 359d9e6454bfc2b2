package bench

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Result is one row of the table, as --json gives it. Figures are in
// unit; ratio is shmfs ÷ kernel, the median of the per-run ratios (each
// between two measurements taken next to each other).
type Result struct {
	Op         string    `json:"op"`
	Unit       string    `json:"unit"`
	Shmfs      float64   `json:"shmfs"`
	Kernel     *float64  `json:"kernel,omitempty"`
	KernelPath string    `json:"kernel_path,omitempty"`
	Ratio      *float64  `json:"ratio,omitempty"`
	Target     string    `json:"target,omitempty"`
	Met        *bool     `json:"met,omitempty"`
	ShmfsRuns  []float64 `json:"shmfs_runs"`
	KernelRuns []float64 `json:"kernel_runs,omitempty"`
}

// Report is a whole run.
type Report struct {
	Date    string      `json:"date"`
	Machine machineInfo `json:"machine"`
	Config  configInfo  `json:"config"`
	Rows    []Result    `json:"rows"`
	Floors  []Floor     `json:"floors,omitempty"`
	Notes   []string    `json:"notes,omitempty"`
	Seconds float64     `json:"seconds"`
}

type machineInfo struct {
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	MemoryMiB uint64 `json:"memory_mib"`
	Kernel    string `json:"kernel"`
	Go        string `json:"go"`
	Commit    string `json:"shmfs_commit,omitempty"`
	LoadStart string `json:"loadavg_start"`
	LoadEnd   string `json:"loadavg_end"`
}

type configInfo struct {
	Runs      int    `json:"runs"`
	SizeMiB   uint64 `json:"size_mib"`
	AttachN   int    `json:"attach_cycles"`
	CreateN   int    `json:"create_segments"`
	StatN     int    `json:"stats"`
	Scale     []int  `json:"scale_segments"`
	SegmentIO string `json:"segment_io"`
	Quick     bool   `json:"quick,omitempty"`
}

// measure runs every wanted group cfg.runs times, the sides of a group
// one after the other in an order that rotates from run to run, then the
// scale measurements.
func (b *bench) measure() (*Report, error) {
	start := time.Now()
	rep := &Report{Date: start.UTC().Format("2006-01-02 15:04 UTC"), Machine: machine()}
	rep.Config = configInfo{
		Runs: b.cfg.runs, SizeMiB: b.cfg.size >> 20, AttachN: b.cfg.attachN,
		CreateN: b.cfg.createN, StatN: b.cfg.statN, Scale: b.cfg.scale,
		SegmentIO: b.mode, Quick: b.cfg.quick,
	}
	// The scale rows come first, on a server that has served nothing yet,
	// so its memory before the tables is a clean baseline.
	var scaleRows []Result
	if b.cfg.want("scale") {
		var err error
		if scaleRows, err = b.measureScale(); err != nil {
			return nil, err
		}
	}
	groups := b.wanted()
	// samples[g][side][run] is one client's results.
	samples := make([]map[string][]map[string]float64, len(groups))
	for i := range samples {
		samples[i] = map[string][]map[string]float64{}
	}
	for r := 0; r < b.cfg.runs; r++ {
		for gi, g := range groups {
			for k := range g.sides {
				s := g.sides[(k+r)%len(g.sides)]
				res, err := s.run(nil)
				if err != nil {
					return nil, fmt.Errorf("%s, %s: %v", g.name, s.name, err)
				}
				samples[gi][s.name] = append(samples[gi][s.name], res)
			}
		}
	}
	for gi, g := range groups {
		for _, rw := range g.rows {
			rep.Rows = append(rep.Rows, rowResult(rw, samples[gi][g.sides[0].name], samples[gi][rw.kernel]))
		}
	}
	rep.Rows = append(rep.Rows, scaleRows...)
	if b.cfg.want("floor") {
		var err error
		if rep.Floors, err = b.measureFloors(); err != nil {
			return nil, fmt.Errorf("floor: %v", err)
		}
	}
	rep.Notes = b.notes
	rep.Machine.LoadEnd = loadavg()
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

func rowResult(rw row, shmfs, kernel []map[string]float64) Result {
	res := Result{Op: rw.op, Unit: rw.unit.name, KernelPath: rw.path, Target: rw.target.String()}
	if res.KernelPath == "" {
		res.KernelPath = rw.kernel
	}
	var ratios []float64
	for i := range shmfs {
		s := shmfs[i][rw.metric] / rw.unit.div
		k := kernel[i][rw.metric] / rw.unit.div
		res.ShmfsRuns = append(res.ShmfsRuns, s)
		res.KernelRuns = append(res.KernelRuns, k)
		if k > 0 {
			ratios = append(ratios, s/k)
		}
	}
	res.Shmfs = median(res.ShmfsRuns)
	kern := median(res.KernelRuns)
	res.Kernel = &kern
	if len(ratios) > 0 {
		ratio := median(ratios)
		res.Ratio = &ratio
		if rw.target.set {
			met := rw.target.met(ratio)
			res.Met = &met
		}
	}
	return res
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func machine() machineInfo {
	m := machineInfo{Cores: runtime.NumCPU(), Go: runtime.Version(), LoadStart: loadavg()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				m.MemoryMiB = kb >> 10
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(data))
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				m.Commit = s.Value[:min(12, len(s.Value))] + m.Commit
			case "vcs.modified":
				if s.Value == "true" {
					m.Commit += "+dirty"
				}
			}
		}
	}
	return m
}

func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
