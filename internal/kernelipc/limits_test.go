package kernelipc_test

import (
	"os"
	"strings"
	"testing"

	"github.com/shmfs/shmfs/internal/kernelipc"
	"golang.org/x/sys/unix"
)

// limits/* are the namespace's own /proc/sys/kernel files: a write by
// root changes that namespace only; uid 65534 is refused as writing the
// file directly would refuse it.
func TestLimitsPerNamespace(t *testing.T) {
	_, ns := selfNS(t, kernelipc.Bounds{})
	_, other := container(t, "echo ready; exec sleep 1000")
	m := kernelipc.NewManager(kernelipc.Bounds{})
	defer m.Close()
	ons, err := m.Get(other, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range kernelipc.LimitNames {
		old, _ := os.ReadFile("/proc/sys/kernel/" + name)
		// The kernel applies a sem line in part before it fails: put
		// every limit back for the tests that follow.
		t.Cleanup(func() { os.WriteFile("/proc/sys/kernel/"+name, old, 0) })
		got, err := ns.ReadLimit(root(), name)
		want, _ := os.ReadFile("/proc/sys/kernel/" + name)
		if err != nil || string(got) != string(want) {
			t.Errorf("%s: %q %v, want %q", name, got, err, want)
		}
	}
	if err := ns.WriteLimit(root(), "msgmni", []byte("77\n")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile("/proc/sys/kernel/msgmni"); strings.TrimSpace(string(b)) != "77" {
		t.Errorf("own namespace msgmni %q after the write", b)
	}
	if b, _ := ons.ReadLimit(root(), "msgmni"); strings.TrimSpace(string(b)) == "77" {
		t.Error("the write reached another namespace")
	}
	wantErrno(t, "write by 65534", ns.WriteLimit(nobody(), "msgmni", []byte("78\n")), unix.EACCES)
	wantErrno(t, "a malformed sem line", ns.WriteLimit(root(), "sem", []byte("1 2 x\n")), unix.EINVAL)
	if _, err := ns.ReadLimit(root(), "hostname"); err != unix.ENOENT {
		t.Errorf("a name outside the list: %v", err)
	}
	if b, err := ns.ReadLimit(nobody(), "shmmni"); err != nil || len(b) == 0 {
		t.Errorf("read by 65534: %q %v", b, err)
	}
}
