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
	// ServerCPUUs and ServerCS are the server's CPU time (user and
	// system, µs) and context switches (all its threads) per call that
	// reaches it, over the shmfs side of the row's group: the median of
	// the runs.
	ServerCPUUs *float64 `json:"server_cpu_us_per_call,omitempty"`
	ServerCS    *float64 `json:"server_cs_per_call,omitempty"`
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
				var before serverCost
				if s.name == g.sides[0].name {
					before = b.serverCost()
				}
				res, err := s.run(nil)
				if err != nil {
					return nil, fmt.Errorf("%s, %s: %v", g.name, s.name, err)
				}
				if s.name == g.sides[0].name {
					after := b.serverCost()
					res[serverCPUKey] = after.cpuNs - before.cpuNs
					res[serverCSKey] = after.cs - before.cs
				}
				samples[gi][s.name] = append(samples[gi][s.name], res)
			}
		}
	}
	for gi, g := range groups {
		for _, rw := range g.rows {
			rep.Rows = append(rep.Rows, rowResult(rw, samples[gi][g.sides[0].name], samples[gi][rw.kernel], g.ops))
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

func rowResult(rw row, shmfs, kernel []map[string]float64, ops int) Result {
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
	if ops > 0 {
		var cpu, cs []float64
		for _, s := range shmfs {
			cpu = append(cpu, s[serverCPUKey]/1e3/float64(ops))
			cs = append(cs, s[serverCSKey]/float64(ops))
		}
		c, x := median(cpu), median(cs)
		res.ServerCPUUs, res.ServerCS = &c, &x
	}
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

// Keys of a shmfs side's results that hold the server's cost of the run.
const (
	serverCPUKey = "_server_cpu_ns"
	serverCSKey  = "_server_cs"
)

// serverCost is what the server has used so far: CPU time (user and
// system, ns) and context switches, voluntary or not, of all its
// threads. Threads that ended since are not counted: the server's serving
// threads live as long as the mount.
type serverCost struct{ cpuNs, cs float64 }

func (b *bench) serverCost() serverCost {
	pid := b.servingPid()
	var c serverCost
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// Fields after the command's closing parenthesis; utime and
		// stime are the 14th and 15th of the line.
		if i := strings.LastIndexByte(string(st), ')'); i > 0 {
			f := strings.Fields(string(st[i+1:]))
			if len(f) > 13 {
				u, _ := strconv.ParseFloat(f[11], 64)
				s, _ := strconv.ParseFloat(f[12], 64)
				c.cpuNs = (u + s) * 1e9 / clockTicks
			}
		}
	}
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, t := range tasks {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, t.Name()))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(st), "\n") {
			if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
				n, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
				c.cs += n
			} else if v, ok := strings.CutPrefix(line, "nonvoluntary_ctxt_switches:"); ok {
				n, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
				c.cs += n
			}
		}
	}
	return c
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on
// every Linux architecture Go runs on.
const clockTicks = 100
