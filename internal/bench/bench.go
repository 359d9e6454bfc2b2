// Package bench is `shmfs bench`: it mounts a fresh shmfs served by a
// child `shmfs mount`, measures it side by side with the kernel's own
// paths in the same run, and prints the table (or JSON of Report, whose
// rows are Result, the type the tests decode). cmd/shmfs only dispatches.
package bench

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

//go:embed benchclient/benchclient.c
var benchClientSrc []byte

// benchConfig is what one `shmfs bench` run measures, and how much.
type benchConfig struct {
	runs    int    // measurements of each side of each row; the median is shown
	size    uint64 // bytes of the bandwidth and first-touch segments
	attachN int    // attach cycles per measurement
	msgRttN int    // message round trips per measurement
	msgN    int    // messages of the one-way throughput measurement
	semN    int    // uncontended semop pairs per measurement
	createN int    // segments created and unlinked per measurement
	statN   int    // stats per measurement
	scale   []int  // table sizes of the scale measurements
	only    map[string]bool
	json    bool
	rounds  bool
	quick   bool
	noPT    bool
	ioUring string // shmfs mount --io-uring, "" for its default
}

func (c *benchConfig) want(group string) bool { return len(c.only) == 0 || c.only[group] }

// bench is one run: a fresh shmfs mount served by a child `shmfs mount`,
// a directory in /dev/shm for the kernel side, and the compiled client.
type bench struct {
	cfg    benchConfig
	ctx    context.Context
	tmp    string // holds the mount point, the client and the server log
	mnt    string
	shm    string // MOUNT/default/shm
	devshm string // a directory of our own in /dev/shm
	client string
	server *exec.Cmd
	done   chan error // the server's exit
	log    string     // the server's stderr
	mode   string     // segment I/O mode from the server's ready line
	nextKy uint32     // next fresh key for shmfs and /dev/shm names
	notes  []string
	// restore undoes what the run changed outside its own directories.
	restore []func()
}

// Cmd runs `shmfs bench` with args, the words after "bench".
func Cmd(args []string) error {
	fl := flag.NewFlagSet("bench", flag.ContinueOnError)
	fl.Usage = func() {
		fmt.Fprint(fl.Output(), `usage: shmfs bench [flags]

Mounts a fresh shmfs in a temporary directory, measures it side by side
with the kernel's own paths (/dev/shm, shmget/shmat) in the same run,
alternating the two, and prints a table: operation, shmfs, kernel, kernel
path, ratio (shmfs ÷ kernel, the median of the per-run ratios) and the
target. Needs root (it mounts with mount(2)) and gcc (the client is a C
program compiled for the run). The mount is always unmounted at the end.

flags:
`)
		fl.PrintDefaults()
	}
	var cfg benchConfig
	fl.IntVar(&cfg.runs, "runs", 5, "measurements of each side of each row (the median is shown)")
	sizeMiB := fl.Int("size", 256, "MiB of the bandwidth and first-touch segments")
	fl.BoolVar(&cfg.quick, "quick", false, "a few small iterations of everything: checks that the benchmark runs, measures nothing worth quoting")
	fl.BoolVar(&cfg.json, "json", false, "print JSON instead of the table")
	fl.BoolVar(&cfg.rounds, "rounds", false, "count the FUSE requests each operation makes (serves with --debug and reads its log) instead of timing")
	fl.BoolVar(&cfg.noPT, "no-passthrough", false, "mount with --no-passthrough")
	fl.StringVar(&cfg.ioUring, "io-uring", "", "mount with --io-uring=auto|on|off (which transport serves the requests)")
	only := fl.String("only", "", "comma-separated groups to run: "+strings.Join(groupNames(), ","))
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("bench: %v", err)
	}
	if fl.NArg() != 0 {
		return errors.New("bench: takes no arguments (see shmfs bench --help)")
	}
	cfg.size = uint64(*sizeMiB) << 20
	cfg.attachN, cfg.createN, cfg.statN = 2000, 4096, 3000
	cfg.msgRttN, cfg.msgN, cfg.semN = 2000, 20000, 5000
	cfg.scale = []int{4096, 32768}
	if cfg.quick {
		cfg.runs = min(cfg.runs, 2)
		cfg.size = 8 << 20
		cfg.attachN, cfg.createN, cfg.statN = 20, 32, 20
		cfg.msgRttN, cfg.msgN, cfg.semN = 20, 200, 20
		cfg.scale = []int{64, 256}
	}
	if cfg.rounds {
		cfg.runs = 1
		cfg.size = 16 << 20
		cfg.attachN, cfg.createN, cfg.statN = 100, 100, 100
		cfg.msgRttN, cfg.msgN, cfg.semN = 100, 100, 100
		cfg.scale = []int{100}
	}
	if cfg.runs < 1 || cfg.size < 1<<20 {
		return errors.New("bench: --runs must be at least 1 and --size at least 1")
	}
	if *only != "" {
		cfg.only = map[string]bool{}
		for _, g := range strings.Split(*only, ",") {
			if !isGroup(g) {
				return fmt.Errorf("bench: unknown group %q (groups: %s)", g, strings.Join(groupNames(), ","))
			}
			cfg.only[g] = true
		}
	}
	if os.Geteuid() != 0 {
		return errors.New("bench: needs root: it mounts shmfs with mount(2) and compares with the kernel's System V IPC")
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	b := &bench{cfg: cfg, ctx: ctx, nextKy: 0x1000}
	defer b.cleanup()
	if err := b.setup(); err != nil {
		return fmt.Errorf("bench: %v", err)
	}
	if cfg.rounds {
		rep, err := b.countRounds()
		if err != nil {
			return fmt.Errorf("bench: %v", err)
		}
		return b.printRounds(rep)
	}
	rep, err := b.measure()
	if err != nil {
		return fmt.Errorf("bench: %v", err)
	}
	return b.print(rep)
}

// setup compiles the client, makes the directories and mounts shmfs.
func (b *bench) setup() error {
	var err error
	if b.tmp, err = os.MkdirTemp("", "shmfs-bench-"); err != nil {
		return err
	}
	if err := os.Chmod(b.tmp, 0o755); err != nil {
		return err
	}
	if b.devshm, err = os.MkdirTemp("/dev/shm", "shmfs-bench-"); err != nil {
		return err
	}
	src := filepath.Join(b.tmp, "benchclient.c")
	b.client = filepath.Join(b.tmp, "benchclient")
	if err := os.WriteFile(src, benchClientSrc, 0o644); err != nil {
		return err
	}
	if out, err := exec.CommandContext(b.ctx, "gcc", "-O2", "-o", b.client, src).CombinedOutput(); err != nil {
		return fmt.Errorf("compiling the client with gcc: %v\n%s", err, out)
	}
	if !b.cfg.rounds && b.cfg.want("scale") {
		b.fitNofile()
	}
	b.mnt = filepath.Join(b.tmp, "mnt")
	if err := os.Mkdir(b.mnt, 0o755); err != nil {
		return err
	}
	b.shm = filepath.Join(b.mnt, "default", "shm")
	return b.mount()
}

// mount starts `shmfs mount` on b.mnt, the same code path a user gets,
// and waits for its ready line.
func (b *bench) mount() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	args := []string{"mount"}
	if b.cfg.rounds {
		args = append(args, "--debug")
	}
	if b.cfg.noPT {
		args = append(args, "--no-passthrough")
	}
	if b.cfg.ioUring != "" {
		args = append(args, "--io-uring="+b.cfg.ioUring)
	}
	b.log = filepath.Join(b.tmp, "server.log")
	logf, err := os.Create(b.log)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(self, append(args, b.mnt)...)
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	b.server = cmd
	b.done = make(chan error, 1)
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line
		// Drain whatever else the server prints, so it never blocks.
		for sc := bufio.NewScanner(stdout); sc.Scan(); {
		}
		b.done <- cmd.Wait()
	}()
	select {
	case line := <-ready:
		if !strings.Contains(line, "mounted on") {
			msg, _ := os.ReadFile(b.log)
			return fmt.Errorf("shmfs mount did not come up: %q %s", strings.TrimSpace(line), tail(msg))
		}
		if _, m, ok := strings.Cut(strings.TrimSpace(line), "segment I/O "); ok {
			b.mode = m
		}
	case <-time.After(30 * time.Second):
		return errors.New("shmfs mount: no ready line in 30s")
	case <-b.ctx.Done():
		return b.ctx.Err()
	}
	return nil
}

// servingPid is the process that serves the mount: `shmfs mount` is a
// keeper (docs/crash.md) whose child `shmfs serve` holds /dev/fuse and
// answers the requests, so the server's costs, descriptors and /dev/fuse
// are that child's. A server without a keeper is the started process.
func (b *bench) servingPid() int {
	pid := b.server.Process.Pid
	if _, ok := fuseFdOf(pid); ok {
		return pid
	}
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, t := range tasks {
		kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		for _, k := range strings.Fields(string(kids)) {
			if c, err := strconv.Atoi(k); err == nil {
				if _, ok := fuseFdOf(c); ok {
					return c
				}
			}
		}
	}
	return pid
}

// cleanup unmounts, stops the server and puts back what the run changed.
// It runs whatever happened before.
func (b *bench) cleanup() {
	for i := len(b.restore) - 1; i >= 0; i-- {
		b.restore[i]()
	}
	if b.server != nil {
		b.server.Process.Signal(syscall.SIGTERM)
		select {
		case <-b.done:
		case <-time.After(10 * time.Second):
			unix.Unmount(b.mnt, unix.MNT_DETACH)
			b.server.Process.Kill()
			<-b.done
		}
	}
	if b.mnt != "" {
		// A server that died leaves its mount behind.
		unix.Unmount(b.mnt, unix.MNT_DETACH)
	}
	if b.devshm != "" {
		os.RemoveAll(b.devshm)
	}
	if b.tmp != "" {
		os.RemoveAll(b.tmp)
	}
}

// fitNofile makes room in RLIMIT_NOFILE for the server to hold one memfd
// per segment of the largest table, raising the limit if it may, and
// otherwise shrinks the largest table to what fits (a common hard limit,
// 20000 here, is below 32768, and raising it needs CAP_SYS_RESOURCE).
func (b *bench) fitNofile() {
	const spare = 512 // the server's other descriptors, with room to spare
	sizes := b.cfg.scale
	need := uint64(sizes[len(sizes)-1] + spare)
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil || lim.Cur >= need {
		return
	}
	old := lim
	lim.Cur, lim.Max = need, max(lim.Max, need)
	// syscall's Setrlimit, not unix's: only it stops os/exec from giving
	// children the limit this process started with.
	err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	if err == nil {
		b.notes = append(b.notes, fmt.Sprintf("RLIMIT_NOFILE raised from %d (hard %d) to %d for the server: it holds one memfd per segment", old.Cur, old.Max, need))
		return
	}
	if old.Max > old.Cur {
		lim.Cur, lim.Max = old.Max, old.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
			old.Cur = old.Max
		}
	}
	fit := int(max(old.Cur, spare+1024)-spare) / 1024 * 1024
	for i := range sizes {
		sizes[i] = min(sizes[i], fit)
	}
	b.cfg.scale = slices.Compact(sizes)
	b.notes = append(b.notes, fmt.Sprintf("%d segments not measured: the server holds one memfd per segment, RLIMIT_NOFILE is %d and cannot be raised (%v), so the table stops at %d", need-spare, old.Cur, err, fit))
}

// run runs the client and returns its key=value results.
func (b *bench) run(env []string, args ...string) (map[string]float64, error) {
	// No measurement takes a minute; one that does is stuck.
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.client, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if cmd.Process != nil {
			removeKernelLeftovers(cmd.Process.Pid)
		}
		if b.ctx.Err() != nil {
			return nil, b.ctx.Err()
		}
		return nil, fmt.Errorf("benchclient %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	res := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("benchclient %s: bad result line %q", args[0], line)
		}
		res[k] = f
	}
	return res, nil
}

// fresh returns a key no segment of this run has had, so every
// measurement starts from a segment that did not exist.
func (b *bench) fresh(n int) uint32 {
	k := b.nextKy
	b.nextKy += uint32(n)
	return k
}

func keyName(k uint32) string { return fmt.Sprintf("0x%08x", k) }

// serverStatus reads the server's resident memory (bytes) and open
// descriptors. The resident size is the least of several readings over
// a fifth of a second: what the segments hold stays, while go-fuse's
// request buffers (1 MiB each) and the pages that the Go runtime is
// still giving back come and go, and would count for or against the
// segments depending on the moment.
func (b *bench) serverStatus() (rss uint64, fds int, err error) {
	pid := b.servingPid()
	rss = math.MaxUint64
	for i := 0; i < 10; i++ {
		if i > 0 {
			time.Sleep(20 * time.Millisecond)
		}
		r, err := b.serverRSS(pid)
		if err != nil {
			return 0, 0, err
		}
		rss = min(rss, r)
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, 0, err
	}
	return rss, len(ents), nil
}

// serverRSS reads VmRSS of the server.
func (b *bench) serverRSS(pid int) (uint64, error) {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, nil
		}
	}
	return 0, errors.New("no VmRSS in /proc/PID/status")
}

func tail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = "…" + s[len(s)-2000:]
	}
	return s
}
