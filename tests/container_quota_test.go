package tests

import (
	"fmt"
	"testing"
)

// TestContainerQuotas: an administrator sets a tenant's shmmni, shmall,
// msgmni and sem; they hold in that namespace only; the tenant, even
// root inside its container, cannot change them (EACCES, as a write to
// /proc/sys/kernel/* by a user the file does not let write). With
// --isolate every namespace's limits are quotas; without it, those of a
// namespace bound to a tenant's kernel namespace.
func TestContainerQuotas(t *testing.T) {
	for _, isolate := range []bool{true, false} {
		t.Run(fmt.Sprintf("isolate=%v", isolate), func(t *testing.T) {
			var mnt string
			if isolate {
				mnt = mountShmfs(t, "--isolate")
			} else {
				mnt = mountShmfs(t)
			}
			a := newTenant(t, -1, -1, "")
			b := newTenant(t, -1, -1, "")
			// First use makes their namespaces.
			a.check("A", -1, -1, []string{"readlink:" + mnt + "/self"}, "ok "+a.name())
			b.check("B", -1, -1, []string{"readlink:" + mnt + "/self"}, "ok "+b.name())
			lim := mnt + "/" + a.name() + "/limits/"
			expect(t, "the administrator", []string{"shmmni", "shmall", "msgmni", "sem", "read shmmni"},
				hostProbe(t, -1, -1, "write:"+lim+"shmmni:1", "write:"+lim+"shmall:1", "write:"+lim+"msgmni:1",
					"write:"+lim+"sem:250 32000 32 1", "read:"+lim+"shmmni"),
				"ok", "ok", "ok", "ok", "ok 1")

			// A's root can neither raise nor lower its quota, nor write it
			// by its name from outside self.
			own := mnt + "/self/limits/"
			a.check("root of A", -1, -1, []string{
				"write:" + own + "shmmni:100", "write:" + own + "shmmni:0", "write:" + own + "shmall:1000000",
				"write:" + own + "msgmni:100", "write:" + own + "sem:250 32000 32 100",
				"write:" + lim + "shmmni:100", "read:" + own + "shmmni", "read:" + own + "sem",
			}, "EACCES", "EACCES", "EACCES", "EACCES", "EACCES", "EACCES", "ok 1", "ok 250\t32000\t32\t1")

			// The quotas hold in A: one segment of at most a page, one
			// queue, one set.
			page := fmt.Sprint(4096)
			d := a.driver(-1, -1)
			fd := d.ok("open %s/self/shm/0x00000001 rwc", mnt)
			d.ok("ftruncate %s %s", fd, page)
			d.fails("ENOSPC", "ftruncate %s %d", fd, 2*4096)
			d.fails("ENOSPC", "open %s/self/shm/0x00000002 rwc", mnt)
			d.ok("open %s/self/msg/0x00000001 rwc", mnt)
			d.fails("ENOSPC", "open %s/self/msg/0x00000002 rwc", mnt)
			d.ok("open %s/self/sem/0x00000001 rwc", mnt)
			d.fails("ENOSPC", "open %s/self/sem/0x00000002 rwc", mnt)

			// B has the defaults.
			db := b.driver(-1, -1)
			for _, kind := range []string{"shm", "msg", "sem"} {
				db.ok("open %s/self/%s/0x00000001 rwc", mnt, kind)
				db.ok("open %s/self/%s/0x00000002 rwc", mnt, kind)
			}
			b.check("B", -1, -1, []string{"read:" + mnt + "/self/limits/shmmni"}, "ok 4096")

			// The host's root keeps the kernel's rule for default: without
			// isolation it may write; with it, as an administrator, too.
			// A host user may not.
			expect(t, "host root", []string{"root writes default"},
				hostProbe(t, -1, -1, "write:"+mnt+"/default/limits/shmmni:4000"), "ok")
			expect(t, "host nobody", []string{"nobody writes default"},
				hostProbe(t, 65534, 65534, "write:"+mnt+"/default/limits/shmmni:5000"), "EACCES")
		})
	}
}
