package tests

import (
	"fmt"
	"strings"
	"testing"
)

// TestShmIds: ids are formed as the kernel forms them. A fresh namespace
// starts at 0; a removed and recreated key gets a new id, in the ctl
// result and in sysvipc/shm; and a long run of creations and removals,
// through the index's wrap-around and the sequence that follows, gives
// the ids that shmget gives in a fresh kernel IPC namespace.
func TestShmIds(t *testing.T) {
	mnt := mountShmfs(t)
	d := startDriver(t, "c", -1, -1)
	d.ok("ctl %s/default/shm/ctl IPC_CREAT key=0x1 size=1 mode=0600", mnt)
	d.ok("mkdir %s/fresh", mnt)
	ctl := mnt + "/fresh/shm/ctl"
	table := mnt + "/fresh/sysvipc/shm"
	if got := d.ok("ctl %s IPC_CREAT key=0x77 size=1 mode=0600", ctl); got != "0 0x00000077" {
		t.Errorf("first segment of a fresh namespace: %q, want id 0", got)
	}
	d.ok("ctl %s IPC_RMID 0x77", ctl)
	got := d.ok("ctl %s IPC_CREAT key=0x77 size=1 mode=0600", ctl)
	var id int
	fmt.Sscanf(got, "%d", &id)
	if id == 0 || got != fmt.Sprintf("%d 0x00000077", id) {
		t.Errorf("recreated key: %q, want a new id", got)
	}
	if r := shmByKey(shmTable(t, table), 0x77); r == nil || r.ID != id {
		t.Errorf("sysvipc/shm: %+v, want id %d", r, id)
	}
	// Through open(O_CREAT) and unlink as well.
	shOK(t, "rm "+mnt+"/fresh/shm/0x00000077 && : > "+mnt+"/fresh/shm/0x00000077")
	if r := shmByKey(shmTable(t, table), 0x77); r == nil || r.ID == id || r.ID == 0 {
		t.Errorf("recreated by open: %+v, want an id other than 0 and %d", r, id)
	}

	// The same story against the kernel.
	d.ok("mkdir %s/ref", mnt)
	ctl = mnt + "/ref/shm/ctl"
	kernel := startDriver(t, "c-ipcns", -1, -1)
	type op struct {
		create bool
		key    int // for create; 0 is IPC_PRIVATE
		of     int // for remove: the index of the create whose id goes
	}
	var ops []op
	create := func(key int) int { ops = append(ops, op{create: true, key: key}); return len(ops) - 1 }
	remove := func(i int) { ops = append(ops, op{of: i}) }
	a, b, c := create(0x10), create(0x20), create(0x30)
	remove(b)
	create(0x40)
	remove(a)
	create(0x10)
	create(0)
	remove(c)
	create(0)
	for i := 0; i < 70; i++ { // past RADIX_TREE_MAP_SIZE: the index wraps, the sequence moves
		remove(create(0x1000 + i))
	}
	var alive []int
	for i := 0; i < 120; i++ { // a fuller table: the index range grows with in_use
		alive = append(alive, create(0x2000+i))
		if i%3 == 2 {
			remove(alive[i-1])
		}
	}
	ids := make([]string, len(ops))
	var mismatches []string
	for i, o := range ops {
		var k, s string
		if o.create {
			k = kernel.do("shmget %d 1", o.key)
			key := fmt.Sprintf("0x%x", o.key)
			if o.key == 0 {
				key = "IPC_PRIVATE"
			}
			s = d.do("ctl %s IPC_CREAT key=%s size=1 mode=0600", ctl, key)
			if f := strings.Fields(s); len(f) == 3 {
				s = f[0] + " " + f[1]
			}
			ids[i] = strings.TrimPrefix(k, "ok ")
		} else {
			k = kernel.do("shmrm %s", ids[o.of])
			s = d.do("ctl %s IPC_RMID id=%s", ctl, ids[o.of])
			if strings.HasPrefix(s, "ok ") {
				s = "ok"
			}
		}
		if k != s {
			mismatches = append(mismatches, fmt.Sprintf("op %d %+v: kernel %q, shmfs %q", i, o, k, s))
		}
	}
	if len(mismatches) > 0 {
		t.Errorf("%d of %d operations differ from the kernel:\n%s", len(mismatches), len(ops), strings.Join(mismatches[:min(len(mismatches), 10)], "\n"))
	}
	live := 0
	for _, o := range ops {
		if o.create {
			live++
		} else {
			live--
		}
	}
	if rows := shmTable(t, mnt+"/ref/sysvipc/shm"); len(rows) != live {
		t.Errorf("%d segments left, want %d", len(rows), live)
	}
}
