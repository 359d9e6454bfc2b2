package tests

import (
	"fmt"
	"strings"
	"testing"
)

// TestContainerIsolation: with --isolate, a tenant — an unprivileged user
// in a child IPC namespace, or root in one — sees only its own namespace
// and self at the top, and no path leads to another's: a lookup by name,
// `..` from its own, a name the kernel has cached for the host, another
// tenant's cwd or open descriptor through /proc. The host's root sees
// everything; an unprivileged host user sees default.
func TestContainerIsolation(t *testing.T) {
	mnt := mountShmfs(t, "--isolate")
	const nobody = 65534
	// A: nobody, sitting in its own shm/ with one of its segments open
	// on descriptor 3, so that another process of the same user can
	// reach both through /proc.
	a := newTenant(t, nobody, nobody, fmt.Sprintf(
		"echo secret of A > %[1]s/self/shm/0x00000001\ncd %[1]s/self/shm\nexec 3< 0x00000001", mnt))
	// B: nobody too. R: root in a child IPC namespace, with every
	// capability in the server's user namespace.
	b := newTenant(t, nobody, nobody, "")
	r := newTenant(t, -1, -1, "")
	for _, k := range []*ipcTenant{b, r} {
		uid := -1
		if k == b {
			uid = nobody
		}
		k.shOK(uid, uid, "echo mine > "+mnt+"/self/shm/0x00000002")
	}
	aSeg := mnt + "/" + a.name() + "/shm/0x00000001"
	// The host's root reads A's segment first, so that the kernel holds
	// the names on the way for the tenants to stumble on.
	if got := hostProbe(t, -1, -1, "read:"+aSeg); got[0] != "ok secret of A" {
		t.Fatalf("host reads A's segment: %q", got)
	}

	for _, k := range []*ipcTenant{b, r} {
		uid, who := -1, "root in a child IPC namespace"
		if k == b {
			uid, who = nobody, "nobody in a child IPC namespace"
		}
		proc := fmt.Sprintf("/proc/%d", a.pid)
		ops := []string{
			"list:" + mnt,
			"readlink:" + mnt + "/self",
			"read:" + mnt + "/self/shm/0x00000002",
			"stat:" + mnt + "/" + a.name(),
			"list:" + mnt + "/" + a.name(),
			"read:" + aSeg,
			"read:" + mnt + "/default/sysvipc/shm",
			"stat:" + mnt + "/default",
			"read:" + mnt + "/self/../" + a.name() + "/shm/0x00000001",
			"list:" + mnt + "/self/..",
			"read:" + proc + "/cwd/0x00000001",
			"stat:" + proc + "/cwd/0x00000001",
			"list:" + proc + "/cwd",
			"chdir:" + proc + "/cwd",
			"read:" + proc + "/cwd/../ctl",
			"read:" + proc + "/fd/3",
			"create:" + proc + "/cwd/0x00000009",
			"unlink:" + proc + "/cwd/0x00000001",
			"mkdir:" + mnt + "/mine",
			"rmdir:" + mnt + "/" + a.name(),
			"rmdir:" + mnt + "/nosuch",
			"rmdir:" + mnt + "/" + k.name(),
			"write:" + mnt + "/self/ctl:unbind",
		}
		k.check(who, uid, uid, ops,
			"ok "+strings.Join(sortedNames(k.name(), kernelName, "self"), " "),
			"ok "+k.name(),
			"ok mine",
			"ENOENT", "ENOENT", "ENOENT", "ENOENT", "ENOENT", "ENOENT",
			"ok "+strings.Join(sortedNames(k.name(), kernelName, "self"), " "),
			"ENOENT", "ENOENT", "ENOENT", "ENOENT", "ENOENT", "ENOENT", "ENOENT", "ENOENT",
			"EPERM", "ENOENT", "ENOENT", "EPERM", "EPERM")
	}

	// A, after all that, still has its namespace, by name, by self, by
	// its cwd and by its descriptor.
	a.check("A", nobody, nobody, []string{
		"read:" + mnt + "/self/shm/0x00000001",
		"read:" + aSeg,
		fmt.Sprintf("read:/proc/%d/cwd/0x00000001", a.pid),
		fmt.Sprintf("read:/proc/%d/fd/3", a.pid),
		"list:" + mnt,
	}, "ok secret of A", "ok secret of A", "ok secret of A", "ok secret of A",
		"ok "+strings.Join(sortedNames(a.name(), kernelName, "self"), " "))

	// The host's root sees every namespace; an unprivileged host user is
	// a tenant of default.
	expect(t, "root on the host", []string{"list", "read B's"},
		hostProbe(t, -1, -1, "list:"+mnt, "read:"+mnt+"/"+b.name()+"/shm/0x00000002"),
		"ok "+strings.Join(sortedNames("default", kernelName, "self", a.name(), b.name(), r.name()), " "), "ok mine")
	expect(t, "nobody on the host", []string{"list", "readlink self", "read A's", "stat default"},
		hostProbe(t, nobody, nobody, "list:"+mnt, "readlink:"+mnt+"/self", "read:"+aSeg, "stat:"+mnt+"/default"),
		"ok default kernel self", "ok default", "ENOENT", "ok")

	// Permissions inside a namespace stay the kernel's ipcperms: R's
	// segment is 0644 root, which B cannot see at all, and which a
	// nobody in R's own namespace may read but not write.
	r.check("nobody in R's namespace", nobody, nobody,
		[]string{"read:" + mnt + "/self/shm/0x00000002", "write:" + mnt + "/self/shm/0x00000002:x"},
		"ok mine", "EACCES")
}
