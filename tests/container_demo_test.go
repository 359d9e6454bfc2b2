package tests

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestContainerDemo runs examples/containers.sh, the demonstration of
// isolation with two unshare containers, as a new user would (as root,
// one command), and checks that it succeeds, says what it should, and
// leaves no mount and no temporary directory behind.
func TestContainerDemo(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(filepath.Dir(file)), "examples", "containers.sh")
	before, _ := filepath.Glob("/tmp/shmfs-containers.*")
	out, err := runCmd(t, []string{"SHMFS=" + shmfsBin}, "sh", script)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{
		"[A] wrote key 0x00001234, read back: A was here",
		"[B] wrote key 0x00001234, read back: B was here",
		"[B] cannot reach ",
		"[A]     0x00001234 0          root       644        10",
		"[B]     0x00001234 0          root       644        10",
		"A was here\n",
		"B was here\n",
		"both went with their containers",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the demo's output lacks %q:\n%s", want, out)
		}
	}
	after, _ := filepath.Glob("/tmp/shmfs-containers.*")
	if len(after) != len(before) {
		t.Errorf("the demo left %v behind", after)
	}
	mounts, _ := os.ReadFile("/proc/self/mounts")
	if strings.Contains(string(mounts), "shmfs-containers.") {
		t.Errorf("the demo left a mount behind:\n%s", mounts)
	}
}
