package tests

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// shmfsBin is the binary under test, built once by TestMain.
var shmfsBin string

// workDir holds the binary and compiled helpers; removed after the run.
var workDir string

func TestMain(m *testing.M) {
	if err := checkFuse(); err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "tests: FUSE is required in CI:", err)
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "tests: skipping end-to-end tests:", err)
		os.Exit(0)
	}
	var err error
	workDir, err = os.MkdirTemp("", "shmfs-tests-")
	if err == nil {
		err = os.Chmod(workDir, 0o755)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tests:", err)
		os.Exit(1)
	}
	shmfsBin = filepath.Join(workDir, "shmfs")
	// Background servers log here, not in /var/log/shmfs.
	os.Setenv("SHMFS_LOG_DIR", filepath.Join(workDir, "logs"))
	args := []string{"build", "-o", shmfsBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	_, file, _, _ := runtime.Caller(0)
	build := exec.Command("go", append(args, "./cmd/shmfs")...)
	build.Dir = filepath.Dir(filepath.Dir(file))
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "tests: building shmfs: %v\n%s", err, out)
		os.RemoveAll(workDir)
		os.Exit(1)
	}
	// A race-enabled binary sleeps a second at exit unless told not to;
	// every server and command of the suite exits.
	os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	code := m.Run()
	os.RemoveAll(workDir)
	os.Exit(code)
}

func checkFuse() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("not root: the tests mount with mount(2)")
	}
	fd, err := unix.Open("/dev/fuse", unix.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("/dev/fuse: %v", err)
	}
	unix.Close(fd)
	return nil
}

// mountShmfs mounts a fresh shmfs in a new directory that every user can
// reach, and unmounts it when the test ends, whatever happened. It returns
// the mount point.
func mountShmfs(t testing.TB, extraArgs ...string) string {
	t.Helper()
	return mountShmfsBin(t, shmfsBin, extraArgs...)
}

// detachAll detaches every mount stacked on dir.
func detachAll(dir string) {
	for i := 0; i < 64 && isMounted(dir); i++ {
		if unix.Unmount(dir, unix.MNT_DETACH) != nil {
			return
		}
	}
}

// plainBin is shmfs built without the race detector, for the tests that
// measure the server's memory; built at its first use.
var plainBin = sync.OnceValues(func() (string, error) {
	if !raceEnabled {
		return shmfsBin, nil
	}
	bin := filepath.Join(workDir, "shmfs-plain")
	_, file, _, _ := runtime.Caller(0)
	build := exec.Command("go", "build", "-o", bin, "./cmd/shmfs")
	build.Dir = filepath.Dir(filepath.Dir(file))
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building shmfs without -race: %v\n%s", err, out)
	}
	return bin, nil
})

// mountShmfsPlain is mountShmfs with a server built without the race
// detector, whose runtime keeps memory it never gives back.
func mountShmfsPlain(t testing.TB, extraArgs ...string) string {
	t.Helper()
	bin, err := plainBin()
	if err != nil {
		t.Fatal(err)
	}
	return mountShmfsBin(t, bin, extraArgs...)
}

// mountShmfsBin is mountShmfs with the server binary bin.
func mountShmfsBin(t testing.TB, bin string, extraArgs ...string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "shmfs-mnt-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	if v := os.Getenv("SHMFS_TEST_IO_URING"); v != "" {
		// The whole suite on rings: SHMFS_TEST_IO_URING=on.
		extraArgs = append([]string{"--io-uring=" + v}, extraArgs...)
	}
	cmd := exec.Command(bin, append(append([]string{"mount"}, extraArgs...), dir)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	servers.Store(dir, cmd.Process.Pid)
	done := make(chan error, 1)
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			unix.Unmount(dir, unix.MNT_DETACH)
			cmd.Process.Kill()
			<-done
		}
		// A server that died leaves its mount behind, and a restarted
		// one mounts over the dead one (docs/crash.md): detach every
		// layer.
		detachAll(dir)
		os.Remove(dir)
		servers.Delete(dir)
		if s := stderr.String(); strings.Contains(s, "DATA RACE") || strings.Contains(s, "panic:") {
			t.Errorf("shmfs server stderr:\n%s", s)
		}
	})
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line
		done <- cmd.Wait()
	}()
	select {
	case line := <-ready:
		if !strings.Contains(line, "mounted on") {
			t.Fatalf("shmfs mount did not come up: %q, stderr: %s", line, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("shmfs mount: no ready line in 30s; stderr: %s", stderr.String())
	}
	return dir
}

// servers maps each mount point of mountShmfs to its server's pid.
var servers sync.Map

// serverPid is the pid of the server of a mount made by mountShmfs:
// the process serving FUSE requests, which its keeper (the mount's
// process, in servers) started, as shmfs status says.
func serverPid(t testing.TB, mnt string) int {
	t.Helper()
	if _, ok := servers.Load(mnt); !ok {
		t.Fatalf("no server known for %s", mnt)
	}
	return crashStatus(t, mnt).ServerPID
}

// waitFor polls cond until it holds, for at most 10 seconds. It is for
// what has no sync point: FUSE sends a release after close(2) returns.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sh runs a shell command line and returns its stdout; stderr goes into
// the error.
func sh(t testing.TB, script string) (string, error) {
	t.Helper()
	return runCmd(t, nil, "sh", "-c", script)
}

// shAs runs a shell command line as an unprivileged user (nobody, with no
// supplementary groups and no capabilities).
func shAs(t testing.TB, uid, gid int, script string) (string, error) {
	t.Helper()
	return runCmd(t, nil, "setpriv", fmt.Sprintf("--reuid=%d", uid), fmt.Sprintf("--regid=%d", gid), "--clear-groups", "sh", "-c", script)
}

// runCmd runs a program with a deadline, giving it env on top of ours.
func runCmd(t testing.TB, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), err
}

// shOK runs a shell command line that must succeed and returns its
// stdout.
func shOK(t testing.TB, script string) string {
	t.Helper()
	out, err := sh(t, script)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// builtC holds the programs buildC compiled this run, by name and source.
var builtC struct {
	sync.Mutex
	bins map[string]string
}

// buildC compiles a C program given as source and returns its path. A
// program is compiled once per run; tests that share one call buildC
// each.
func buildC(t testing.TB, name, src string) string {
	t.Helper()
	builtC.Lock()
	defer builtC.Unlock()
	if bin, ok := builtC.bins[name+"\x00"+src]; ok {
		return bin
	}
	dir := filepath.Join(workDir, "c")
	os.MkdirAll(dir, 0o755)
	srcPath := filepath.Join(dir, name+".c")
	bin := filepath.Join(dir, name)
	if err := os.WriteFile(srcPath, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("gcc", "-O2", "-Wall", "-o", bin, srcPath).CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", name, err, out)
	}
	if builtC.bins == nil {
		builtC.bins = make(map[string]string)
	}
	builtC.bins[name+"\x00"+src] = bin
	return bin
}

// stopCmd ends a helper process that runs until its standard input
// closes, killing it if it has not gone in 10 s, and waits for it.
func stopCmd(cmd *exec.Cmd, stdin io.Closer) {
	if cmd.ProcessState != nil {
		return
	}
	stdin.Close()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// shmRow is one row of a /proc/sysvipc/shm table.
type shmRow struct {
	Key                  int32
	ID                   int
	Perms                uint32
	Size                 uint64
	CPID, LPID           int
	Nattch               int
	UID, GID, CUID, CGID int
	Atime, Dtime, Ctime  int64
	RSS, Swap            uint64
}

// shmTable reads and parses a sysvipc/shm file. The header must be the
// kernel's, byte for byte.
func shmTable(t testing.TB, path string) []shmRow {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	const header = "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap"
	if lines[0] != header {
		t.Fatalf("%s: header %q", path, lines[0])
	}
	var rows []shmRow
	for _, l := range lines[1:] {
		var r shmRow
		n, err := fmt.Sscanf(l, "%d %d %o %d %d %d %d %d %d %d %d %d %d %d %d %d",
			&r.Key, &r.ID, &r.Perms, &r.Size, &r.CPID, &r.LPID, &r.Nattch,
			&r.UID, &r.GID, &r.CUID, &r.CGID, &r.Atime, &r.Dtime, &r.Ctime, &r.RSS, &r.Swap)
		if err != nil || n != 16 {
			t.Fatalf("%s: row %q: %v", path, l, err)
		}
		rows = append(rows, r)
	}
	return rows
}

// shmByID returns the row of id, or nil.
func shmByID(rows []shmRow, id int) *shmRow {
	for i := range rows {
		if rows[i].ID == id {
			return &rows[i]
		}
	}
	return nil
}

// shmByKey returns the row of key, or nil.
func shmByKey(rows []shmRow, key int32) *shmRow {
	for i := range rows {
		if rows[i].Key == key {
			return &rows[i]
		}
	}
	return nil
}

// waitCatches waits until process pid has a handler for sig (SigCgt in
// /proc/<pid>/status), so that a signal sent to it is not fatal only
// because it came before the program got going.
func waitCatches(t testing.TB, pid int, sig syscall.Signal) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			t.Fatalf("pid %d: %v", pid, err)
		}
		for _, line := range strings.Split(string(status), "\n") {
			if hex, ok := strings.CutPrefix(line, "SigCgt:"); ok {
				var mask uint64
				fmt.Sscanf(strings.TrimSpace(hex), "%x", &mask)
				if mask&(1<<(uint(sig)-1)) != 0 {
					return
				}
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("pid %d never caught %v", pid, sig)
}
