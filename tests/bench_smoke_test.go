package tests

import (
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/shmfs/shmfs/internal/bench"
)

// benchRows are the operations every shmfs bench run must report, each
// against the kernel paths named.
var benchRows = []struct {
	op      string
	kernels []string
}{
	{"mmap write+read", []string{"/dev/shm", "shmat"}},
	{"first touch", []string{"/dev/shm", "shmat"}},
	{"pwrite 1 MiB blocks", []string{"/dev/shm"}},
	{"pread 1 MiB blocks", []string{"/dev/shm"}},
	{"attach: open+mmap+touch+munmap+close", []string{"/dev/shm", "shmat+touch+shmdt"}},
	{"create+size 4 KiB+close", []string{"/dev/shm", "shmget"}},
	{"unlink", []string{"/dev/shm", "shmctl(IPC_RMID)"}},
	{"stat of a segment", []string{"/dev/shm", "shmctl(IPC_STAT)"}},
	{"fstat of an open segment", []string{"/dev/shm"}},
	{"msg round trip, 64 B", []string{"msgsnd/msgrcv"}},
	{"msg one-way throughput, 64 B", []string{"msgsnd/msgrcv"}},
	{"sem lock+unlock, uncontended", []string{"semop"}},
	{"sem ping-pong, two processes", []string{"semop"}},
	{"ls -l of 64 segments", []string{"/dev/shm"}},
	{"ls -l of 256 segments", []string{"/dev/shm"}},
	{"server memory per idle segment, 256", nil},
	{"server fds per segment, 256", nil},
	{"ls -l time per entry, 256 ÷ 64", []string{"/dev/shm"}},
	{"kernel/self mmap write+read", []string{"shmat"}},
	{"kernel/self attach: open+mmap+touch+munmap+close", []string{"shmat+touch+shmdt"}},
}

// benchResult is a row of bench --json, the type bench prints.
type benchResult = bench.Result

// TestBenchQuickJSON runs shmfs bench with a few small iterations and
// checks that it reports every operation against every kernel path, with
// figures from real measurements, and leaves nothing behind.
func TestBenchQuickJSON(t *testing.T) {
	out, err := runCmd(t, nil, shmfsBin, "bench", "--quick", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Date    string `json:"date"`
		Machine struct{ CPU string }
		Config  struct{ Runs int }
		Rows    []benchResult `json:"rows"`
		Notes   []string      `json:"notes"`
		Floors  []struct {
			Name string  `json:"name"`
			Us   float64 `json:"us"`
		} `json:"floors"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("bench --json is not JSON: %v\n%s", err, out)
	}
	if rep.Date == "" || rep.Config.Runs < 1 {
		t.Errorf("no date or runs in %s", out)
	}
	// A build that does not serve semop on sem/ files says so in a note
	// instead of measuring it.
	semSkipped := slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.HasPrefix(n, "sem: not measured") })
	// The mount under test runs as root and has the kernel mirror: its
	// rows must be there (a note saying they were skipped is a failure).
	if slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.HasPrefix(n, "kernel: not measured") }) {
		t.Errorf("the kernel mirror rows were not measured: %v", rep.Notes)
	}
	for _, want := range benchRows {
		if semSkipped && strings.HasPrefix(want.op, "sem ") {
			continue
		}
		kernels := map[string]bool{}
		found := false
		for _, r := range rep.Rows {
			if !strings.HasPrefix(r.Op, want.op) {
				continue
			}
			found = true
			// A --quick table of 256 segments takes less memory than
			// one of go-fuse's 1 MiB request buffers, which come and go:
			// its memory figure may be anything, even below 0.
			noisy := strings.HasPrefix(r.Op, "server memory")
			if !(r.Shmfs > 0 || noisy) || r.Unit == "" || len(r.ShmfsRuns) == 0 {
				t.Errorf("%s: no shmfs figure: %+v", r.Op, r)
			}
			if r.Kernel != nil {
				kernels[r.KernelPath] = true
				if !(*r.Kernel > 0) || r.Ratio == nil || !(*r.Ratio > 0) || len(r.KernelRuns) != len(r.ShmfsRuns) {
					t.Errorf("%s vs %s: no kernel figure or ratio: %+v", r.Op, r.KernelPath, r)
				}
			}
		}
		if !found {
			t.Errorf("no row %q in %s", want.op, out)
			continue
		}
		for _, k := range want.kernels {
			if !kernels[k] {
				t.Errorf("row %q has no comparison with %s", want.op, k)
			}
		}
	}
	for _, r := range rep.Rows {
		if strings.HasPrefix(r.Op, "server fds per segment") && r.Shmfs != 1 {
			t.Errorf("%s: %v descriptors per segment, want 1", r.Op, r.Shmfs)
		}
	}
	for _, want := range []string{"minimal C server, client and server on one CPU", "shmfs (go-fuse), client and server on one CPU", "backing file register"} {
		found := false
		for _, f := range rep.Floors {
			if strings.Contains(f.Name, want) {
				found = true
				if !(f.Us > 0) {
					t.Errorf("floor %q: %v µs", f.Name, f.Us)
				}
			}
		}
		if !found {
			t.Errorf("no floor %q in %s", want, out)
		}
	}
	checkBenchCleanedUp(t)
}

// TestBenchQuickTable checks the table: a header and a line for every
// operation.
func TestBenchQuickTable(t *testing.T) {
	out, err := runCmd(t, nil, shmfsBin, "bench", "--quick", "--runs", "1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "operation") || !strings.Contains(out, "ratio") || !strings.Contains(out, "\nfloors:") {
		t.Errorf("no table header in:\n%s", out)
	}
	semSkipped := strings.Contains(out, "note: sem: not measured")
	for _, want := range benchRows {
		if semSkipped && strings.HasPrefix(want.op, "sem ") {
			continue
		}
		if !strings.Contains(out, "\n"+want.op) {
			t.Errorf("no line for %q in:\n%s", want.op, out)
		}
	}
	checkBenchCleanedUp(t)
}

// TestBenchRounds checks that --rounds finds the requests that no cache
// can remove: an attach cycle opens the segment (a modelled one or the
// kernel mirror's), a create creates it, a message is one write.
func TestBenchRounds(t *testing.T) {
	out, err := runCmd(t, nil, shmfsBin, "bench", "--rounds", "--json", "--only", "attach,create,msg,kernel")
	if err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		Section  string             `json:"section"`
		Requests map[string]float64 `json:"by_opcode"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("bench --rounds --json is not JSON: %v\n%s", err, out)
	}
	want := map[string]string{"attach cycle": "OPEN", "create+size 4 KiB+close": "CREATE", "unlink": "UNLINK", "msg one-way": "WRITE", "kernel/self attach cycle": "OPEN"}
	for _, r := range rows {
		if op, ok := want[r.Section]; ok {
			if n := r.Requests[op]; n < 0.9 || n > 1.1 {
				t.Errorf("%s: %v %s requests per iteration, want 1 (%v)", r.Section, n, op, r.Requests)
			}
			delete(want, r.Section)
		}
	}
	for s := range want {
		t.Errorf("no section %q in %s", s, out)
	}
	checkBenchCleanedUp(t)
}

// checkBenchCleanedUp fails if a bench run left a mount, a /dev/shm
// directory or a System V segment of its own behind.
func checkBenchCleanedUp(t *testing.T) {
	t.Helper()
	mounts, _ := os.ReadFile("/proc/mounts")
	if strings.Contains(string(mounts), "shmfs-bench-") || strings.Contains(string(mounts), "benchfloor") {
		t.Errorf("a bench mount is left:\n%s", mounts)
	}
	ents, _ := os.ReadDir("/dev/shm")
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "shmfs-bench-") {
			t.Errorf("/dev/shm/%s is left", e.Name())
		}
	}
	segs, _ := os.ReadFile("/proc/sysvipc/shm")
	for _, line := range strings.Split(string(segs), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		// The bench's keyed segments live at 0x5b000000 to 0x5bffffff.
		if key, err := strconv.ParseInt(f[0], 10, 64); err == nil && key >= 0x5b000000 && key < 0x5c000000 {
			t.Errorf("a bench segment is left: %s", line)
		}
	}
}
