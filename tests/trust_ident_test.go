package tests

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestIdentityDistinct walks a tree that holds a segment, a queue and a
// set in each of two namespaces, and finds every (st_dev, st_ino)
// distinct: the kinds share one numbering, not one number.
func TestIdentityDistinct(t *testing.T) {
	mnt := mountShmfs(t)
	shOK(t, "mkdir "+mnt+"/b")
	for _, ns := range []string{"default", "b"} {
		d := filepath.Join(mnt, ns)
		shOK(t, "echo 'IPC_CREAT key=0x10 nsems=2' > "+d+"/sem/ctl && "+
			"echo 'IPC_CREAT key=0x20' > "+d+"/msg/ctl && "+
			"echo 'IPC_CREAT key=0x30 size=4096' > "+d+"/shm/ctl && "+
			"echo 'IPC_CREAT key=0x10 size=4096' > "+d+"/shm/ctl && "+
			"echo 'IPC_CREAT key=IPC_PRIVATE' > "+d+"/msg/ctl")
	}
	type id struct{ dev, ino uint64 }
	seen := map[id]string{}
	n := 0
	err := filepath.Walk(mnt, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		k := id{st.Dev, st.Ino}
		if prev, ok := seen[k]; ok {
			t.Errorf("%s and %s share (dev %d, ino %d)", prev, path, st.Dev, st.Ino)
		}
		seen[k] = path
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// 2 namespaces × (ns dir, ctl, 3 tables + 3 ctl, 5 objects, sysvipc
	// + 3, limits + 7) + root + self.
	if n < 2*(1+1+6+5+4+8)+2 {
		t.Errorf("walked only %d paths", n)
	}
	// A name with options is a name of its own.
	q := filepath.Join(mnt, "default/msg/0x00000020")
	var a, b syscall.Stat_t
	if err := syscall.Stat(q, &a); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(q+",mtext", &b); err != nil {
		t.Fatal(err)
	}
	if a.Ino == b.Ino {
		t.Errorf("%s and its mtext name share ino %d", q, a.Ino)
	}
	if _, ok := seen[id{b.Dev, b.Ino}]; ok {
		t.Errorf("%s,mtext shares ino %d with %s", q, b.Ino, seen[id{b.Dev, b.Ino}])
	}
}

// TestIdentityQueueWriteNeverReachesSet is the repro of issue 9, item 1:
// with a set and a queue both listed, a write to the queue once ran a
// semop on the set, whose inode it shared.
func TestIdentityQueueWriteNeverReachesSet(t *testing.T) {
	mnt := mountShmfs(t)
	d := mnt + "/default"
	shOK(t, "echo 'IPC_CREAT key=0x10 nsems=2' > "+d+"/sem/ctl && echo 'IPC_CREAT key=0x20' > "+d+"/msg/ctl")
	// Before the fix the listing itself could hang on the shared node;
	// timeout keeps a failure a failure.
	shOK(t, "timeout -s KILL 20 ls -li "+d+"/sem "+d+"/msg")
	// "0 5" is no struct msgbuf: the queue refuses it.
	sh(t, "timeout -s KILL 20 sh -c \"printf '0 5' > "+d+"/msg/0x00000020\"")
	got := strings.TrimSpace(shOK(t, "timeout -s KILL 20 cat "+d+"/sem/0x00000010"))
	if got != "0 0" {
		t.Errorf("set after a write to the queue: %q, want \"0 0\"", got)
	}
	if row := strings.Fields(strings.Split(shOK(t, "cat "+d+"/sysvipc/msg"), "\n")[1]); len(row) < 5 {
		t.Errorf("queue row %q", row)
	}
}
