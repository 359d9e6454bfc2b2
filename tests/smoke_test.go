package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMountServesDefaultNamespace mounts shmfs and checks the tree a new
// mount has, from a shell.
func TestMountServesDefaultNamespace(t *testing.T) {
	mnt := mountShmfs(t)
	out := shOK(t, "ls "+mnt+"/default")
	for _, want := range []string{"limits", "msg", "sem", "shm", "sysvipc"} {
		if !strings.Contains(out, want) {
			t.Errorf("ls default: missing %s in %q", want, out)
		}
	}
	shOK(t, "echo hello > "+mnt+"/default/shm/0x0000162e")
	got, err := os.ReadFile(filepath.Join(mnt, "default/shm/0x0000162e"))
	if err != nil || string(got) != "hello\n" {
		t.Fatalf("read back: %q, %v", got, err)
	}
}
