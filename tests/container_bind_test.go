package tests

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestContainerBind: MOUNT/<ns>/ctl binds a named namespace to a kernel
// IPC namespace, by pid or by nsfs path, and unbinds it; reading ctl
// shows the binding. Only an administrator may (EPERM for a host user
// and for root of a container); a kernel namespace bound elsewhere, or a
// namespace bound already, is EBUSY; a bad command is EINVAL, a missing
// process ESRCH, a missing path ENOENT, a file that is not an IPC
// namespace EINVAL; none of these changes anything.
func TestContainerBind(t *testing.T) {
	mnt := mountShmfs(t)
	root := startDriver(t, "c", -1, -1)
	nobody := startDriver(t, "c", 65534, 65534)
	x := newTenant(t, -1, -1, "")
	y := newTenant(t, -1, -1, "")
	z := newTenant(t, -1, -1, "")
	root.ok("mkdir %s/tenantA", mnt)
	root.ok("mkdir %s/tenantB", mnt)
	ctlA, ctlB := mnt+"/tenantA/ctl", mnt+"/tenantB/ctl"
	status := func(ctl string) string {
		b, err := os.ReadFile(ctl)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSuffix(string(b), "\n")
	}
	if s := status(ctlA); s != "unbound" {
		t.Fatalf("a new namespace's ctl: %q, want unbound", s)
	}
	if got := root.ok("ctl %s bind pid=%d", ctlA, x.pid); got != fmt.Sprintf("bound ipc:[%d]", x.ns) {
		t.Errorf("bind pid: %q", got)
	}
	if got := root.ok("ctl %s bind path=/proc/%d/ns/ipc", ctlB, y.pid); got != fmt.Sprintf("bound ipc:[%d]", y.ns) {
		t.Errorf("bind path: %q", got)
	}
	for k, want := range map[*ipcTenant]string{x: "tenantA", y: "tenantB"} {
		k.check(want, 65534, 65534, []string{"readlink:" + mnt + "/self"}, "ok "+want)
	}
	if s := status(ctlA); s != fmt.Sprintf("bound ipc:[%d]", x.ns) {
		t.Errorf("tenantA/ctl: %q", s)
	}

	// Refusals, each leaving the bindings as they were.
	zd := z.driver(-1, -1)
	for _, c := range []struct {
		d     *driver
		errno string
		cmd   string
	}{
		{root, "EBUSY", fmt.Sprintf("ctl %s bind pid=%d", ctlA, z.pid)},            // tenantA is bound
		{root, "EBUSY", fmt.Sprintf("ctl %s/default/ctl bind pid=%d", mnt, z.pid)}, // so is default, to the server's
		{root, "EBUSY", fmt.Sprintf("ctl %s bind pid=%d", ctlA, x.pid)},            // the same again
		{root, "EBUSY", fmt.Sprintf("ctl %s/default/ctl unbind", mnt)},             // default keeps the server's
		{nobody, "EPERM", fmt.Sprintf("ctl %s unbind", ctlA)},
		{nobody, "EPERM", fmt.Sprintf("ctl %s bind pid=%d", ctlB, z.pid)},
		{zd, "EPERM", fmt.Sprintf("ctl %s unbind", ctlA)}, // root of a container
		{zd, "EPERM", fmt.Sprintf("ctl %s/default/ctl bind pid=%d", mnt, z.pid)},
		{root, "EINVAL", fmt.Sprintf("ctl %s bind", ctlA)},
		{root, "EINVAL", fmt.Sprintf("ctl %s bind pid=%d path=/proc/%d/ns/ipc", ctlA, z.pid, z.pid)},
		{root, "EINVAL", fmt.Sprintf("ctl %s bind pid=abc", ctlA)},
		{root, "EINVAL", fmt.Sprintf("ctl %s bind pid=%d extra", ctlA, z.pid)},
		{root, "EINVAL", fmt.Sprintf("ctl %s unbind now", ctlA)},
		{root, "EINVAL", fmt.Sprintf("ctl %s BIND pid=%d", ctlA, z.pid)},
		{root, "EINVAL", fmt.Sprintf("ctl %s bind pid=%d\\nunbind", ctlA, z.pid)},
	} {
		c.d.fails(c.errno, "%s", c.cmd)
	}
	root.ok("mkdir %s/spare", mnt)
	ctlS := mnt + "/spare/ctl"
	root.fails("ESRCH", "ctl %s bind pid=999999999", ctlS)
	root.fails("ESRCH", "ctl %s bind pid=0", ctlS)
	root.fails("ENOENT", "ctl %s bind path=/nonexistent/ns/ipc", ctlS)
	root.fails("EINVAL", "ctl %s bind path=/proc/self/ns/net", ctlS)
	root.fails("EINVAL", "ctl %s bind path=/etc/hostname", ctlS)
	root.fails("EBUSY", "ctl %s bind path=/proc/%d/ns/ipc", ctlS, y.pid) // tenantB has y
	root.fails("EINVAL", "ctl %s unbind", ctlS)
	root.fails("EBUSY", "rmdir %s/tenantA", mnt)
	if s := status(ctlS); s != "unbound" {
		t.Errorf("spare after refused binds: %q", s)
	}
	if s := status(ctlA); s != fmt.Sprintf("bound ipc:[%d]", x.ns) {
		t.Errorf("tenantA after refused commands: %q", s)
	}
	z.check("z", -1, -1, []string{"readlink:" + mnt + "/self"}, "ok "+z.name())

	// Unbind: tenantA stays, reached by name, and x's next use of self
	// makes it a namespace of its own.
	x.shOK(-1, -1, "echo kept > "+mnt+"/self/shm/0x00000005")
	if got := root.ok("ctl %s unbind", ctlA); got != "unbound" {
		t.Errorf("unbind: %q", got)
	}
	x.check("x", -1, -1, []string{"readlink:" + mnt + "/self", "read:" + mnt + "/tenantA/shm/0x00000005"},
		"ok "+x.name(), "ok kept")
	if s := status(mnt + "/" + x.name() + "/ctl"); s != fmt.Sprintf("bound ipc:[%d] auto", x.ns) {
		t.Errorf("x's new namespace: %q", s)
	}
	// A kernel namespace with a namespace of its own is bound: EBUSY
	// until that one is unbound; then it can be bound to tenantA again.
	root.fails("EBUSY", "ctl %s bind pid=%d", ctlA, x.pid)
	root.ok("ctl %s/%s/ctl unbind", mnt, x.name())
	root.ok("ctl %s bind pid=%d", ctlA, x.pid)
	x.check("x", -1, -1, []string{"readlink:" + mnt + "/self"}, "ok tenantA")
	// The unbound auto namespace is an ordinary one now: rmdir once empty.
	root.ok("rmdir %s/%s", mnt, x.name())
}
