package tests

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// Under --isolate a tenant sees, below kernel/, only self and its own
// namespace: not another tenant's, by listing, by name or by a walk from
// inside it; the administrator sees all.
func TestKernelIsolate(t *testing.T) {
	mnt := mountShmfs(t, "--isolate")
	a := newTenant(t, -1, -1, "")
	// b waits in its own shm/ directory, reached through kernel/self.
	b := newTenant(t, -1, -1, "cd "+filepath.Join(mnt, "kernel", "self", "shm"))
	kipc(t, a, "shmmake", "0x4b1d0030", "4096", "tenant a")
	kipc(t, b, "shmmake", "0x4b1d0030", "4096", "tenant b")
	kdir := filepath.Join(mnt, "kernel")

	if got := a.shOK(-1, -1, "ls "+kdir); got != "self\n"+a.name()+"\n" && got != a.name()+"\nself\n" {
		t.Errorf("tenant a lists kernel/ as %q", got)
	}
	if got := a.shOK(-1, -1, "head -c 8 "+kdir+"/self/shm/0x4b1d0030"); got != "tenant a" {
		t.Errorf("tenant a reads its own segment as %q", got)
	}
	if out, err := a.sh(-1, -1, "ls "+kdir+"/"+b.name()); err == nil || !strings.Contains(err.Error(), "No such file") {
		t.Errorf("tenant a reaches tenant b's namespace: %q %v", out, err)
	}
	// A walk that starts inside b's namespace (b's working directory)
	// is refused too.
	if got := b.shOK(-1, -1, "ls /proc/"+fmt.Sprint(b.pid)+"/cwd/"); got != "0x4b1d0030\nctl\ninfo\n" {
		t.Errorf("tenant b lists its working directory as %q", got)
	}
	if out, err := a.sh(-1, -1, "ls /proc/"+fmt.Sprint(b.pid)+"/cwd/"); err == nil {
		t.Errorf("tenant a walked into tenant b's namespace: %q", out)
	}
	host := shOK(t, "ls "+kdir)
	for _, k := range []*ipcTenant{a, b} {
		if !strings.Contains(host, k.name()+"\n") {
			t.Errorf("the administrator does not see %s: %q", k.name(), host)
		}
	}
	if got := shOK(t, "head -c 8 "+kdir+"/"+b.name()+"/shm/0x4b1d0030"); got != "tenant b" {
		t.Errorf("the administrator reads b's segment as %q", got)
	}
}
