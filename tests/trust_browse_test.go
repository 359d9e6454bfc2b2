package tests

import (
	"strings"
	"testing"
)

// TestBrowsingNeverConsumes: tools that walk a namespace and read every
// file in it (ls -lR, grep -r, tar, cp -r, find -exec cat, file) neither
// take a message nor block: a queue's own name reads as a copy of its
// messages. Receiving takes a name that says so (msg/<key>,recv).
func TestBrowsingNeverConsumes(t *testing.T) {
	mnt := mountShmfs(t)
	d := mnt + "/default"
	shOK(t, "echo 'IPC_CREAT key=0x10' > "+d+"/msg/ctl && echo 'IPC_CREAT key=0x11' > "+d+"/msg/ctl && "+
		"echo 'IPC_CREAT key=0x20 nsems=2' > "+d+"/sem/ctl && echo 'IPC_CREAT key=0x30 size=4096' > "+d+"/shm/ctl")
	for _, m := range []string{"hello one", "hello two", "hello three"} {
		shOK(t, "echo '"+m+"' > "+d+"/msg/0x00000010,mtext")
	}
	qnum := func() string {
		t.Helper()
		for _, l := range strings.Split(shOK(t, "cat "+d+"/sysvipc/msg"), "\n")[1:] {
			if f := strings.Fields(l); len(f) > 4 && f[0] == "16" {
				return f[4]
			}
		}
		t.Fatal("no queue 0x10 in sysvipc/msg")
		return ""
	}
	tmp := t.TempDir()
	for _, c := range []struct{ name, cmd string }{
		{"ls -lR", "ls -lR " + d + " >/dev/null"},
		{"grep -r", "grep -r -a -c hello " + d + "/msg"},
		{"tar", "tar cf " + tmp + "/ns.tar -C " + mnt + " default 2>/dev/null; test $? -le 1"},
		{"cp -r", "cp -r " + d + " " + tmp + "/copy"},
		{"find -exec cat", "find " + d + " -type f -exec cat {} + >/dev/null"},
		{"file", "file " + d + "/msg/0x00000010 " + d + "/msg/0x00000011"},
	} {
		// timeout: a tool that blocks fails rather than hangs.
		out, err := sh(t, "timeout -s KILL 30 sh -c '"+strings.ReplaceAll(c.cmd, "'", `'\''`)+"'")
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if c.name == "grep -r" && !strings.Contains(out, "0x00000010:3") {
			t.Errorf("grep -r counted %q, want the three messages of 0x10 seen", out)
		}
		if n := qnum(); n != "3" {
			t.Fatalf("after %s the queue holds %s messages, want 3", c.name, n)
		}
	}
	// The copy read in order, and an explicit receive takes one.
	if got := shOK(t, "head -c 100 "+tmp+"/copy/msg/0x00000010 | tail -c +9"); !strings.HasPrefix(got, "hello one\n") {
		t.Errorf("copied queue file starts %q", got)
	}
	if got := shOK(t, "timeout -s KILL 10 dd if="+d+"/msg/0x00000010,recv bs=9000 count=1 status=none | tail -c +9"); got != "hello one\n" {
		t.Errorf("receive through ,recv: %q", got)
	}
	if n := qnum(); n != "2" {
		t.Errorf("after a receive the queue holds %s messages, want 2", n)
	}
}
