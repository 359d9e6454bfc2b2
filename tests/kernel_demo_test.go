package tests

import (
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// TestKernelDemo runs examples/kernel.sh, the demonstration of the
// kernel mirror: two unshare --ipc containers running an unmodified
// System V program, browsed, written and signalled by the host through
// MOUNT/kernel/.
func TestKernelDemo(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(filepath.Dir(file)), "examples", "kernel.sh")
	out, err := runCmd(t, []string{"SHMFS=" + shmfsBin}, "sh", script)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{
		"hello from alpha, pid ",
		"hello from beta, pid ",
		"[alpha] signalled; my segment now says: hello alpha, this is the host",
		"0x00005eed 0          root       600        4096       1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the demo did not show %q:\n%s", want, out)
		}
	}
	// The last listing has neither container's namespace.
	names := regexp.MustCompile(`kernel/(ipc-[0-9]+)/shm/\n`).FindAllStringSubmatch(out, -1)
	if len(names) != 2 {
		t.Fatalf("the demo listed %d containers' tables:\n%s", len(names), out)
	}
	last := out[strings.LastIndex(out, "# ls "):]
	for _, n := range names {
		if strings.Contains(last, n[1]+"\n") {
			t.Errorf("%s is still listed after its container ended:\n%s", n[1], last)
		}
	}
}
