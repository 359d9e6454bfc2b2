package tests

import (
	"path/filepath"
	"testing"
)

// TestLimitWriteAtOffset: as /proc/sys/kernel/* (sysctl_writes_strict),
// a write to a limits file that does not start at offset 0 is taken in
// whole and changes nothing: a second write(2) on the same descriptor,
// or a pwrite at an offset.
func TestLimitWriteAtOffset(t *testing.T) {
	mnt := mountShmfs(t)
	f := filepath.Join(mnt, "default", "limits", "shmmni")
	out := shOK(t, `python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
print(os.write(fd, b"100"), os.write(fd, b"200"), os.pwrite(fd, b"300", 5))
print(open(sys.argv[1]).read().strip())
' `+f)
	if want := "3 3 3\n100\n"; out != want {
		t.Fatalf("writes at offsets 0, 3 and 5 of limits/shmmni:\n%s\nwant\n%s", out, want)
	}
}
