package tests

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestSetTimesPermission: utimensat on a segment, queue or set file is
// checked as the kernel checks it on any file: times set to now need
// the owner or write permission (EACCES), explicit times the owner
// (EPERM). A refused touch changes nothing.
func TestSetTimesPermission(t *testing.T) {
	mnt := mountShmfs(t)
	ns := filepath.Join(mnt, "default")
	for _, f := range []string{"shm/0x00000a11", "msg/0x00000a12", "sem/0x00000a13"} {
		t.Run(filepath.Dir(f), func(t *testing.T) {
			p := filepath.Join(ns, f)
			// Owned by 1000, writable by group 2000, nothing for others.
			shOK(t, "umask 0; : > "+p+" && chmod 0620 "+p+" && chown 1000:2000 "+p)
			before := shOK(t, "stat -c '%X %Y %Z' "+p)
			if out, err := shAs(t, 1001, 1001, "touch -c "+p); err == nil || !strings.Contains(err.Error(), "Permission denied") {
				t.Errorf("a stranger's touch: %q, %v; want EACCES", out, err)
			}
			if out, err := shAs(t, 1001, 2000, "touch -c -d @1 "+p); err == nil || !strings.Contains(err.Error(), "Operation not permitted") {
				t.Errorf("a group writer's touch -d: %q, %v; want EPERM", out, err)
			}
			if after := shOK(t, "stat -c '%X %Y %Z' "+p); after != before {
				t.Errorf("refused touches changed the times: %q, was %q", after, before)
			}
			if _, err := shAs(t, 1001, 2000, "touch -c "+p); err != nil {
				t.Errorf("a group writer's touch: %v", err)
			}
			if _, err := shAs(t, 1000, 1000, "touch -c -d @1 "+p); err != nil {
				t.Errorf("the owner's touch -d: %v", err)
			}
		})
	}
}
