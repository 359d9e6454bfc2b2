package kernelipc_test

import (
	"bytes"
	"os"
	"syscall"
	"testing"

	"github.com/shmfs/shmfs/internal/kernelipc"
	"golang.org/x/sys/unix"
)

func TestNameRoundTrip(t *testing.T) {
	for _, s := range []string{"ipc-4026531839", "ipc-1"} {
		id, ok := kernelipc.ParseName(s)
		if !ok || id.Name() != s {
			t.Errorf("ParseName(%q) = %v, %v", s, id, ok)
		}
	}
	for _, s := range []string{"ipc-", "ipc-01", "ipc-+1", "ipc-x", "ipc-1 ", "4026531839", "ipc--1"} {
		if _, ok := kernelipc.ParseName(s); ok {
			t.Errorf("ParseName(%q) accepted", s)
		}
	}
	if got := kernelipc.NSID(7).String(); got != "ipc:[7]" {
		t.Errorf("String = %q", got)
	}
}

// A namespace is listed while a process lives in it and not after; the
// server's own serving threads in it do not keep it listed.
func TestLiveFollowsProcesses(t *testing.T) {
	self, err := kernelipc.Of(int32(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	cmd, id := container(t, "echo ready; exec sleep 1000")
	if id == self {
		t.Fatal("unshare -i gave the test's own namespace")
	}
	live, err := kernelipc.Live()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := live[self]; !ok {
		t.Errorf("own namespace %v not live", self)
	}
	if pid, ok := live[id]; !ok || pid != int32(cmd.Process.Pid) {
		t.Errorf("container namespace %v: pid %d, %v (want %d)", id, pid, ok, cmd.Process.Pid)
	}
	m := kernelipc.NewManager(kernelipc.Bounds{})
	defer m.Close()
	ns, err := m.Get(id, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A serving thread enters it.
	if _, err := ns.ListShm(root()); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	cmd.Wait()
	live, _ = kernelipc.Live()
	if _, ok := live[id]; ok {
		t.Errorf("namespace %v still live after its process ended", id)
	}
	m.Sweep(live)
	if _, err := ns.ListShm(root()); err != unix.ENOENT {
		t.Errorf("call in a swept namespace: %v, want ENOENT", err)
	}
	if _, err := m.Get(id, 0); err != unix.ENOENT {
		t.Errorf("Get of an ended namespace: %v, want ENOENT", err)
	}
}

// A segment made inside another namespace is seen there, not here, and
// its bytes are read through an attach made inside it.
func TestOtherNamespaceSegment(t *testing.T) {
	_, id := container(t, pyShmget(0x4b1d, 8192, "from the container"))
	m := kernelipc.NewManager(kernelipc.Bounds{})
	defer m.Close()
	ns, err := m.Get(id, 0)
	if err != nil {
		t.Fatal(err)
	}
	segs, err := ns.ListShm(root())
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 1 || segs[0].Key != 0x4b1d || segs[0].Size != 8192 || segs[0].Nattch != 1 || segs[0].Mode != 0o600 {
		t.Fatalf("container's segments: %+v", segs)
	}
	a, err := ns.ShmAttach(root(), segs[0].ID, false)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	buf := make([]byte, 18)
	if _, err := a.File.ReadAt(buf, 0); err != nil || string(buf) != "from the container" {
		t.Errorf("read %q, %v", buf, err)
	}
	here, err := os.ReadFile("/proc/sysvipc/shm")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(here, []byte(" 19229 ")) {
		t.Errorf("the container's segment shows in the test's namespace:\n%s", here)
	}
	_, self := selfNS(t, kernelipc.Bounds{})
	if _, err := self.ShmStatAny(segs[0].ID); err == nil {
		// Ids of two namespaces may coincide; keys tell them apart.
		mine, _ := self.ListShm(root())
		for _, s := range mine {
			if s.Key == 0x4b1d {
				t.Errorf("the container's key shows here: %+v", s)
			}
		}
	}
}
