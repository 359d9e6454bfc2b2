package tests

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const enableUring = "/sys/module/fuse/parameters/enable_uring"

// TestURingCallerCPU mounts with --io-uring=on and checks that a
// caller pinned to a CPU has its requests served from that CPU's ring:
// the server's debug log names the ring of every request and its
// caller's pid.
func TestURingCallerCPU(t *testing.T) {
	old, err := os.ReadFile(enableUring)
	if err != nil {
		t.Skip("this kernel has no FUSE over io_uring:", err)
	}
	t.Cleanup(func() { os.WriteFile(enableUring, old, 0) })
	var cpus unix.CPUSet
	if err := unix.SchedGetaffinity(0, &cpus); err != nil || cpus.Count() < 2 {
		t.Skip("needs two CPUs")
	}
	var use []int
	for i := 0; len(use) < 2; i++ {
		if cpus.IsSet(i) {
			use = append(use, i)
		}
	}

	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	logPath := filepath.Join(dir, "server.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	srv := exec.Command(shmfsBin, "mount", "--io-uring=on", "--debug", mnt)
	srv.Stderr = logf
	stdout, _ := srv.StdoutPipe()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { srv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			srv.Process.Kill()
			<-done
		}
		unix.Unmount(mnt, unix.MNT_DETACH)
	})
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if !strings.Contains(line, "requests over io_uring") {
		b, _ := os.ReadFile(logPath)
		t.Fatalf("ready line %q does not say io_uring; log: %s", line, tail(b))
	}

	seg := filepath.Join(mnt, "default", "shm", "0x00001306")
	shOK(t, "touch "+seg)
	ringOf := regexp.MustCompile(`fuseconn: ring (\d+): unique \d+ opcode \d+ from pid (\d+)`)
	for _, cpu := range use {
		var pids []int
		for range 5 {
			// An open always reaches the server; attributes may
			// come from the kernel's cache.
			c := exec.Command("taskset", "-c", strconv.Itoa(cpu), "head", "-c", "0", seg)
			if out, err := c.CombinedOutput(); err != nil {
				t.Fatalf("taskset -c %d head: %v %s", cpu, err, out)
			}
			pids = append(pids, c.Process.Pid)
		}
		b, _ := os.ReadFile(logPath)
		rings := map[string]int{}
		for _, m := range ringOf.FindAllStringSubmatch(string(b), -1) {
			for _, p := range pids {
				if m[2] == strconv.Itoa(p) {
					rings[m[1]]++
				}
			}
		}
		if len(rings) != 1 || rings[strconv.Itoa(cpu)] == 0 {
			t.Errorf("callers pinned to CPU %d (pids %v) were served from rings %v, want only ring %d; log:\n%s", cpu, pids, rings, cpu, tail(b))
		}
	}
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
