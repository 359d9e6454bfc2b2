package bench

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// side is one way to do the operations of a group: shmfs, or one of the
// kernel's own paths. run starts one client process and returns its
// results; env goes to the client (the --rounds markers).
type side struct {
	name string
	run  func(env []string) (map[string]float64, error)
}

// row is one line of the table: a metric of shmfs against the same metric
// of one kernel side.
type row struct {
	op     string
	metric string
	kernel string // the side's name
	path   string // what the table calls the kernel path; the side's name if empty
	unit   unit
	target target
}

// group is operations measured by the same client runs. sides[0] is
// shmfs; every run measures each side once, in an order that rotates from
// run to run, so both sides see the same machine.
type group struct {
	name  string
	sides []side
	rows  []row
	// ops is how many calls that reach the server the shmfs side makes
	// per run (an open, a msgsnd, a semop...), for the server's CPU time
	// and context switches per call; 0 for the data path.
	ops int
}

// unit turns a client metric into what the table shows.
type unit struct {
	name string
	div  float64 // shown = metric / div
	// higherBetter is true for rates, false for times.
	higherBetter bool
}

var (
	gibps   = unit{"GiB/s", 1 << 30, true}
	kfaults = unit{"k faults/s", 1e3, true}
	kmsgs   = unit{"k msgs/s", 1e3, true}
	usec    = unit{"µs", 1e3, false}
	msec    = unit{"ms", 1e6, false}
)

// target is a goal from the issue: on the ratio (shmfs ÷ kernel) or, with
// onValue, on the shmfs figure itself.
type target struct {
	set     bool
	atLeast bool
	v       float64
	onValue bool
	unit    string
}

func atLeast(v float64) target { return target{set: true, atLeast: true, v: v} }
func atMost(v float64) target  { return target{set: true, v: v} }
func valueAtMost(v float64, unit string) target {
	return target{set: true, v: v, onValue: true, unit: unit}
}

func (t target) String() string {
	if !t.set {
		return ""
	}
	op := "≤"
	if t.atLeast {
		op = "≥"
	}
	s := op + " " + strconv.FormatFloat(t.v, 'g', -1, 64)
	if t.onValue {
		if t.unit != "" {
			s += " " + t.unit
		}
		return s
	}
	if !t.atLeast {
		s += "×"
	}
	return s
}

func (t target) met(x float64) bool {
	if t.atLeast {
		return x >= t.v
	}
	return x <= t.v
}

func groupNames() []string {
	return []string{"mmap", "touch", "rw", "attach", "create", "stat", "fstat", "msg", "sem", "kernel", "scale", "floor"}
}

func isGroup(g string) bool {
	for _, n := range groupNames() {
		if n == g {
			return true
		}
	}
	return false
}

// groups are the timed operations of the issue, 1 to 8; the scale
// measurements (9, and ls -l of 4096) are in bench_scale.go.
func (b *bench) groups() []group {
	c := b.cfg
	size := strconv.FormatUint(c.size, 10)
	mib := fmt.Sprintf("%d MiB", c.size>>20)
	shmPath := func() string { return filepath.Join(b.shm, keyName(b.fresh(1))) }
	devPath := func() string { return filepath.Join(b.devshm, keyName(b.fresh(1))) }
	cl := func(args ...string) func(env []string) (map[string]float64, error) {
		return func(env []string) (map[string]float64, error) { return b.run(env, args...) }
	}
	// A path is chosen per run, so every run starts from a new segment.
	clp := func(op string, path func() string, rest ...string) func(env []string) (map[string]float64, error) {
		return func(env []string) (map[string]float64, error) {
			return b.run(env, append([]string{op, path()}, rest...)...)
		}
	}
	n := func(i int) string { return strconv.Itoa(i) }
	return []group{{
		name: "mmap",
		sides: []side{
			{"shmfs", clp("mmap", shmPath, size, "1")},
			{"/dev/shm", clp("mmap", devPath, size, "1")},
			{"shmat", cl("mmap", "sysv", size, "1")},
		},
		rows: []row{
			{op: "mmap write+read " + mib + ", warm", metric: "rw_Bps", kernel: "/dev/shm", unit: gibps, target: atLeast(0.95)},
			{op: "mmap write+read " + mib + ", warm", metric: "rw_Bps", kernel: "shmat", unit: gibps},
		},
	}, {
		name: "touch",
		sides: []side{
			{"shmfs", clp("touch", shmPath, size)},
			{"/dev/shm", clp("touch", devPath, size)},
			{"shmat", cl("touch", "sysv", size)},
		},
		rows: []row{
			{op: "first touch, " + mib, metric: "faults_per_s", kernel: "/dev/shm", unit: kfaults, target: atLeast(0.90)},
			{op: "first touch, " + mib, metric: "faults_per_s", kernel: "shmat", unit: kfaults},
		},
	}, {
		name: "rw",
		sides: []side{
			{"shmfs", clp("rw", shmPath, size, n(1<<20), "2")},
			{"/dev/shm", clp("rw", devPath, size, n(1<<20), "2")},
		},
		rows: []row{
			{op: "pwrite 1 MiB blocks", metric: "pwrite_Bps", kernel: "/dev/shm", unit: gibps, target: atLeast(0.90)},
			{op: "pread 1 MiB blocks", metric: "pread_Bps", kernel: "/dev/shm", unit: gibps, target: atLeast(0.90)},
		},
	}, {
		name: "attach",
		sides: []side{
			{"shmfs", clp("attach", shmPath, n(c.attachN))},
			{"/dev/shm", clp("attach", devPath, n(c.attachN))},
			{"shmat", cl("attach", "sysv", n(c.attachN))},
		},
		rows: []row{
			{op: "attach: open+mmap+touch+munmap+close", metric: "ns_per_op", kernel: "/dev/shm", unit: usec, target: atMost(3)},
			{op: "attach: open+mmap+touch+munmap+close", metric: "ns_per_op", kernel: "shmat", path: "shmat+touch+shmdt", unit: usec},
		},
		ops: c.attachN,
	}, {
		name: "create",
		sides: []side{
			{"shmfs", func(env []string) (map[string]float64, error) {
				return b.run(env, "create", b.shm, n(int(b.fresh(c.createN))), n(c.createN))
			}},
			{"/dev/shm", func(env []string) (map[string]float64, error) {
				return b.run(env, "create", b.devshm, n(int(b.fresh(c.createN))), n(c.createN))
			}},
			{"shmget", func(env []string) (map[string]float64, error) {
				return b.sysvCreate(env, c.createN)
			}},
		},
		rows: []row{
			{op: fmt.Sprintf("create+size 4 KiB+close (%d)", c.createN), metric: "create_ns", kernel: "/dev/shm", unit: usec, target: atMost(5)},
			{op: fmt.Sprintf("create+size 4 KiB+close (%d)", c.createN), metric: "create_ns", kernel: "shmget", unit: usec},
			{op: fmt.Sprintf("unlink (%d)", c.createN), metric: "unlink_ns", kernel: "/dev/shm", unit: usec, target: atMost(5)},
			{op: fmt.Sprintf("unlink (%d)", c.createN), metric: "unlink_ns", kernel: "shmget", path: "shmctl(IPC_RMID)", unit: usec},
		},
		ops: 2 * c.createN,
	}, {
		name: "stat",
		sides: []side{
			{"shmfs", clp("stat", shmPath, n(c.statN))},
			{"/dev/shm", clp("stat", devPath, n(c.statN))},
			{"IPC_STAT", cl("stat", "sysv", n(c.statN))},
		},
		rows: []row{
			{op: "stat of a segment", metric: "ns_per_op", kernel: "/dev/shm", unit: usec, target: atMost(1.5)},
			{op: "stat of a segment", metric: "ns_per_op", kernel: "IPC_STAT", path: "shmctl(IPC_STAT)", unit: usec},
		},
		ops: c.statN,
	}, {
		name: "fstat",
		sides: []side{
			{"shmfs", clp("fstat", shmPath, n(c.statN))},
			{"/dev/shm", clp("fstat", devPath, n(c.statN))},
		},
		rows: []row{
			{op: "fstat of an open segment", metric: "ns_per_op", kernel: "/dev/shm", unit: usec},
		},
		ops: c.statN,
	}, {
		name: "msg",
		sides: []side{
			{"shmfs", func(env []string) (map[string]float64, error) {
				return b.runAll(env, []string{"msgrtt", b.msg(), n(int(b.fresh(2))), n(c.msgRttN)},
					[]string{"msgtput", b.msg(), n(int(b.fresh(2))), n(c.msgN)})
			}},
			{"msgsnd/msgrcv", func(env []string) (map[string]float64, error) {
				return b.runAll(env, []string{"msgrtt", "sysv", n(int(kernelKeys())), n(c.msgRttN)},
					[]string{"msgtput", "sysv", n(int(kernelKeys())), n(c.msgN)})
			}},
		},
		rows: []row{
			{op: "msg round trip, 64 B (send, reply)", metric: "ns_per_op", kernel: "msgsnd/msgrcv", unit: usec},
			{op: "msg one-way throughput, 64 B", metric: "msgs_per_s", kernel: "msgsnd/msgrcv", unit: kmsgs},
		},
		// A round trip is two sends and two receives; a one-way
		// message a send and a receive.
		ops: 4*c.msgRttN + 2*c.msgN,
	}, {
		name: "sem",
		sides: []side{
			{"shmfs", func(env []string) (map[string]float64, error) {
				return b.runAll(env, []string{"sempair", b.sem(), n(int(b.fresh(1))), n(c.semN)},
					[]string{"sempp", b.sem(), n(int(b.fresh(2))), n(c.msgRttN)})
			}},
			{"semop", func(env []string) (map[string]float64, error) {
				return b.runAll(env, []string{"sempair", "sysv", n(int(kernelKeys())), n(c.semN)},
					[]string{"sempp", "sysv", n(int(kernelKeys())), n(c.msgRttN)})
			}},
		},
		rows: []row{
			{op: "sem lock+unlock, uncontended", metric: "pair_ns", kernel: "semop", unit: usec},
			{op: "sem ping-pong, two processes", metric: "pp_ns", kernel: "semop", unit: usec},
		},
		// A lock+unlock is two semops; a ping-pong four.
		ops: 2*c.semN + 4*c.msgRttN,
	}}
}

// sysvCreate runs shmget + IPC_RMID of n keyed segments. The kernel's
// shmmni (4096 by default) may not leave room for n more; it is raised
// for the run and put back at once.
func (b *bench) sysvCreate(env []string, n int) (map[string]float64, error) {
	const shmmniPath = "/proc/sys/kernel/shmmni"
	old, err := os.ReadFile(shmmniPath)
	if err != nil {
		return nil, err
	}
	cur, _ := strconv.Atoi(strings.TrimSpace(string(old)))
	if need := kernelShmCount() + n + 64; need > cur {
		if err := os.WriteFile(shmmniPath, []byte(strconv.Itoa(min(need, 32768))), 0); err != nil {
			return nil, fmt.Errorf("raising %s for %d segments: %v", shmmniPath, n, err)
		}
		defer os.WriteFile(shmmniPath, old, 0)
	}
	return b.run(env, "create", "sysv", strconv.Itoa(int(kernelKeys())), strconv.Itoa(n))
}

// kernelKeys is the first of 4096 keys for kernel objects: a random
// block of the bench's range, unlikely to be anyone else's.
func kernelKeys() uint32 { return benchKeyLo + rand.Uint32N(0x1000)*0x1000 }

// The kernel objects of a run have keys in [benchKeyLo, benchKeyHi).
const benchKeyLo, benchKeyHi = 0x5b000000, 0x5c000000

// msg is the message queue table of the mount.
func (b *bench) msg() string { return filepath.Join(b.mnt, "default", "msg") }

// sem is the semaphore set table of the mount.
func (b *bench) sem() string { return filepath.Join(b.mnt, "default", "sem") }

// semServed reports whether the server takes a semop written to a set's
// file, in the binary form the client writes; a build from before the
// sets were served does not.
func (b *bench) semServed() bool {
	p := filepath.Join(b.sem(), keyName(b.fresh(1)))
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return false
	}
	defer os.Remove(p)
	defer f.Close()
	op := append([]byte("\x00SEM"), make([]byte, 20+6)...)
	binary.NativeEndian.PutUint16(op[24+2:], 1) // sem_op +1 of semaphore 0
	_, err = f.Write(op)
	return err == nil
}

// wanted is the groups the flags ask for that this build can serve.
func (b *bench) wanted() []group {
	var out []group
	for _, g := range append(b.groups(), b.kernelGroups()...) {
		if !b.cfg.want(g.name) {
			continue
		}
		if g.name == "kernel" && !b.kernelServed() {
			b.notes = append(b.notes, "kernel: not measured, this mount has no kernel/self/shm (a build without the kernel mirror, or a server that is not root)")
			continue
		}
		if g.name == "sem" && !b.semServed() {
			b.notes = append(b.notes, "sem: not measured, this build does not serve semop on sem/ files")
			continue
		}
		out = append(out, g)
	}
	return out
}

// runAll runs several clients and merges their results.
func (b *bench) runAll(env []string, runs ...[]string) (map[string]float64, error) {
	all := map[string]float64{}
	for _, args := range runs {
		res, err := b.run(env, args...)
		if err != nil {
			return nil, err
		}
		for k, v := range res {
			all[k] += v
		}
	}
	return all, nil
}

// kernelShmCount is how many System V segments the kernel has now.
func kernelShmCount() int {
	data, err := os.ReadFile("/proc/sysvipc/shm")
	if err != nil {
		return 0
	}
	return max(strings.Count(string(data), "\n")-1, 0)
}

// removeKernelLeftovers removes the kernel objects a client that failed
// left behind: segments it created (its pid is their cpid), and queues
// and sets with keys of the bench's range.
func removeKernelLeftovers(pid int) {
	data, _ := os.ReadFile("/proc/sysvipc/shm")
	for _, f := range sysvipcRows(data) {
		if len(f) > 4 && f[4] == strconv.Itoa(pid) {
			if id, err := strconv.Atoi(f[1]); err == nil {
				unix.SysvShmCtl(id, unix.IPC_RMID, nil)
			}
		}
	}
	for table, ctl := range map[string]uintptr{"msg": unix.SYS_MSGCTL, "sem": unix.SYS_SEMCTL} {
		data, _ = os.ReadFile("/proc/sysvipc/" + table)
		for _, f := range sysvipcRows(data) {
			key, err1 := strconv.ParseInt(f[0], 10, 64)
			id, err2 := strconv.Atoi(f[1])
			if err1 == nil && err2 == nil && key >= benchKeyLo && key < benchKeyHi {
				if table == "sem" {
					unix.Syscall6(ctl, uintptr(id), 0, uintptr(unix.IPC_RMID), 0, 0, 0)
				} else {
					unix.Syscall(ctl, uintptr(id), uintptr(unix.IPC_RMID), 0)
				}
			}
		}
	}
}

// sysvipcRows splits a /proc/sysvipc table into the fields of its rows.
func sysvipcRows(data []byte) [][]string {
	var rows [][]string
	lines := strings.Split(string(data), "\n")
	for _, line := range lines[min(1, len(lines)):] {
		if f := strings.Fields(line); len(f) >= 2 {
			rows = append(rows, f)
		}
	}
	return rows
}
