package tests

import (
	"os"
	"path/filepath"
	"testing"
)

// TestShmCreatorRemovesAfterChown checks the IPC_RMID rule of the kernel
// through unlink: the creator may remove a segment whose owner IPC_SET
// made someone else, and a user who is neither owner nor creator may not.
// (A sticky table directory would let the kernel's VFS refuse the
// creator before shmfs is asked.)
func TestShmCreatorRemovesAfterChown(t *testing.T) {
	mnt := mountShmfs(t)
	seg := filepath.Join(mnt, "default/shm/0x00000c4e")
	shAsOK := func(uid int, script string) {
		t.Helper()
		if _, err := shAs(t, uid, uid, script); err != nil {
			t.Fatal(err)
		}
	}
	shAsOK(65534, "umask 0; : > "+seg)
	shOK(t, "chown 1000:1000 "+seg)

	if _, err := shAs(t, 1001, 1001, "rm -f "+seg); err == nil {
		t.Fatal("uid 1001, neither owner nor creator, removed the segment")
	}
	if _, err := os.Stat(seg); err != nil {
		t.Fatalf("a refused unlink changed something: %v", err)
	}
	shAsOK(65534, "rm -f "+seg)
	if _, err := os.Stat(seg); !os.IsNotExist(err) {
		t.Fatalf("the creator's unlink left the segment: %v", err)
	}
}
