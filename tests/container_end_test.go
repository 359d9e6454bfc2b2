package tests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestContainerEnd: when the last process of a kernel IPC namespace is
// gone, its namespace ends as the kernel ends one: every object is
// removed, a segment still mapped lives on until it is unmapped, and
// callers blocked on a queue or a set wake with EIDRM. A namespace made
// by first use goes, name and all; one an administrator bound stays,
// empty and unbound. The server lets go of the kernel namespace.
func TestContainerEnd(t *testing.T) {
	mnt := mountShmfs(t)
	a := newTenant(t, -1, -1, "")
	b := newTenant(t, -1, -1, "")
	root := startDriver(t, "c", -1, -1)
	root.ok("mkdir %s/named", mnt)
	root.ok("ctl %s/named/ctl bind pid=%d", mnt, b.pid)
	nsA := mnt + "/" + a.name()
	for _, k := range []*ipcTenant{a, b} {
		k.shOK(-1, -1, fmt.Sprintf(`set -e
cd %s/self
echo data of %s > shm/0x00000001
echo "IPC_CREAT key=0x00000002 mode=0666" > msg/ctl
echo "SETALL 0" > sem/0x00000003
echo hi > msg/0x00000004,mtext`, mnt, k.name()))
	}
	// The host maps A's segment, and blocks receiving from A's queue and
	// waiting on A's set.
	slot := root.ok("map %s/shm/0x00000001 4096", nsA)
	if got := root.ok("peek %s 0 12", slot); got != "data of ipc-" {
		t.Fatalf("A's segment mapped by the host: %q", got)
	}
	recv := startBlocked(t, "", "dd", "if="+nsA+"/msg/0x00000002,mtext", "bs=64k", "count=1", "status=none")
	wait := startBlocked(t, "0 -1", "dd", "of="+nsA+"/sem/0x00000003", "conv=notrunc", "status=none")

	held := func(k *ipcTenant) bool {
		fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", serverPid(t, mnt)))
		for _, fd := range fds {
			if l, _ := os.Readlink(fd); l == fmt.Sprintf("ipc:[%d]", k.ns) {
				return true
			}
		}
		return false
	}
	if !held(a) || !held(b) {
		t.Fatal("the server does not hold the bound kernel namespaces")
	}

	a.end()
	b.end()
	// A listing ends the namespaces whose processes are gone (a scan
	// every 2 s would too).
	waitFor(t, "A's namespace to go", func() bool {
		ents, err := os.ReadDir(mnt)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.Name() == a.name() {
				return false
			}
		}
		return true
	})
	if _, err := os.Stat(nsA); !os.IsNotExist(err) {
		t.Errorf("%s after its kernel namespace ended: %v", nsA, err)
	}
	for name, p := range map[string]*blocked{"msgrcv": recv, "semop": wait} {
		if out, err := p.result(); !strings.Contains(err, "Identifier removed") {
			t.Errorf("blocked %s after the end: %q, %q; want EIDRM", name, out, err)
		}
	}
	// The mapping lives on, shared with the server's pages.
	root.ok("poke %s 0 still", slot)
	if got := root.ok("peek %s 0 12", slot); got != "stillof ipc-" {
		t.Errorf("A's segment after the end: %q", got)
	}
	root.ok("unmap %s", slot)

	// The named namespace stays, empty and unbound.
	if got, err := os.ReadFile(mnt + "/named/ctl"); err != nil || string(got) != "unbound\n" {
		t.Errorf("named/ctl after the end: %q, %v", got, err)
	}
	for _, table := range []string{"shm", "msg", "sem"} {
		if ents, err := os.ReadDir(mnt + "/named/" + table); err != nil || len(ents) != 2 || ents[0].Name() != "ctl" || ents[1].Name() != "info" {
			t.Errorf("named/%s after the end: %v, %v", table, ents, err)
		}
		if rows := strings.Count(shOK(t, "cat "+mnt+"/named/sysvipc/"+table), "\n"); rows != 1 {
			t.Errorf("named/sysvipc/%s after the end has %d lines", table, rows)
		}
	}
	waitFor(t, "the server to let go of the kernel namespaces", func() bool { return !held(a) && !held(b) })
}

// blocked is a process expected to block in the server until something
// ends its call.
type blocked struct {
	cmd  *exec.Cmd
	out  bytes.Buffer
	errb bytes.Buffer
	done chan error
}

// startBlocked starts a command with stdin as its input and waits until
// it blocks in the server.
func startBlocked(t testing.TB, stdin, name string, args ...string) *blocked {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	p := &blocked{cmd: exec.CommandContext(ctx, name, args...), done: make(chan error, 1)}
	p.cmd.Stdin = strings.NewReader(stdin)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.errb
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done; p.done <- nil })
	msgWaitBlocked(t, p.cmd.Process.Pid)
	return p
}

// result waits (at most 30 s) for the process to end and returns its
// output and error output.
func (p *blocked) result() (string, string) {
	select {
	case err := <-p.done:
		p.done <- err
	case <-time.After(30 * time.Second):
		return "", "still blocked after 30s"
	}
	return p.out.String(), p.errb.String()
}

// TestContainerEndUnlisted: with nobody listing MOUNT, the periodic scan
// ends the namespace of a kernel namespace whose last process is gone,
// and the kernel forgets the name it had cached.
func TestContainerEndUnlisted(t *testing.T) {
	mnt := mountShmfs(t)
	a := newTenant(t, -1, -1, "")
	a.shOK(-1, -1, "echo x > "+mnt+"/self/shm/0x00000001")
	ns := mnt + "/" + a.name()
	if _, err := os.Stat(ns + "/shm/0x00000001"); err != nil {
		t.Fatal(err)
	}
	a.end()
	waitFor(t, a.name()+" to go", func() bool {
		_, err := os.Stat(ns)
		return os.IsNotExist(err)
	})
}
