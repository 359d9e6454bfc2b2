package tests

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rssAnon is the server's resident anonymous memory in KiB once the
// kernel has forgotten what it need not keep: dentries and inodes are
// dropped (drop_caches 2), which sends the server a FORGET for every node
// not in use, and the figure is the least of several readings over three
// seconds, while the server's garbage collector and scavenger run.
func rssAnon(t *testing.T, pid int) int {
	t.Helper()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("2"), 0); err != nil {
		t.Fatal(err)
	}
	least := -1
	for i := 0; i < 10; i++ {
		time.Sleep(300 * time.Millisecond)
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(l, "RssAnon:"); ok {
				kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
				if least < 0 || kb < least {
					least = kb
				}
			}
		}
	}
	return least
}

// maxServerThreads bounds a server's threads: the transport's fixed and
// extra serving threads (internal/fuseconn) and the Go runtime's own.
const maxServerThreads = 64

// serverThreads is the number of threads of process pid.
func serverThreads(t *testing.T, pid int) int {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	t.Fatal("no Threads: line in /proc/PID/status")
	return 0
}

// runLong runs a program that makes many thousands of requests, which
// on a shared machine under the race detector takes minutes.
func runLong(t *testing.T, argv ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(argv, " "), err, out)
	}
}

// growthLimit is the growth of the server's anonymous memory, in KiB,
// that the lifetime tests allow: the garbage collector's slack, not the
// 130 MiB (20,000 walks) and 43 MiB (5,000 namespaces) that a node
// subtree per walk and a namespace node never freed cost before.
const growthLimit = 8 << 10

// TestLifetimeTenantWalks: under --isolate, 20,000 stats of self/shm/ctl
// by a tenant leave the server's memory where it was. Each walk through
// self once made a namespace node whose subtree was never freed.
func TestLifetimeTenantWalks(t *testing.T) {
	// A race-built server keeps shadow memory it never gives back
	// (5,000 namespaces grew one by 1.4 GB): measure a plain build.
	mnt := mountShmfsPlain(t, "--isolate")
	pid := serverPid(t, mnt)
	k := newTenant(t, 65534, 65534, "")
	walk := func(n int) {
		t.Helper()
		argv := append(k.enter(65534, 65534), semPython(), "-c", fmt.Sprintf("import os\nfor i in range(%d): os.stat(%q)", n, mnt+"/self/shm/ctl"))
		runLong(t, argv...)
	}
	// The first round fills the server's pools, the transport's reader
	// threads and buffers and the kernel's caches; the second must then
	// add nothing.
	walk(20000)
	before := rssAnon(t, pid)
	walk(20000)
	after := rssAnon(t, pid)
	t.Logf("server RssAnon %d KiB before, %d KiB after 20,000 walks of self/", before, after)
	// Bursts of FORGETs (drop_caches) once made a serving thread each,
	// which Go never gives back: the threads stay bounded.
	if n := serverThreads(t, pid); n > maxServerThreads {
		t.Errorf("the server has %d threads after the walks, want at most %d", n, maxServerThreads)
	}
	if after-before > growthLimit {
		t.Errorf("20,000 walks of self/ by a tenant grew the server by %d KiB (from %d to %d)", after-before, before, after)
	}
}

// TestLifetimeNamespaces: 5,000 namespaces made and removed give their
// memory back.
func TestLifetimeNamespaces(t *testing.T) {
	mnt := mountShmfsPlain(t)
	pid := serverPid(t, mnt)
	cycle := func(n int) {
		t.Helper()
		runLong(t, "python3", "-c", fmt.Sprintf("import os\nfor i in range(%d):\n  p = %q + str(i)\n  os.mkdir(p); os.stat(p + '/shm/ctl'); os.listdir(p + '/limits'); os.rmdir(p)", n, mnt+"/n"))
	}
	cycle(5000) // as in TestLifetimeTenantWalks, a first round fills the pools
	before := rssAnon(t, pid)
	cycle(5000)
	after := rssAnon(t, pid)
	t.Logf("server RssAnon %d KiB before, %d KiB after 5,000 mkdir+rmdir", before, after)
	if n := serverThreads(t, pid); n > maxServerThreads {
		t.Errorf("the server has %d threads after the cycles, want at most %d", n, maxServerThreads)
	}
	if after-before > growthLimit {
		t.Errorf("5,000 namespaces made and removed grew the server by %d KiB (from %d to %d)", after-before, before, after)
	}
}
