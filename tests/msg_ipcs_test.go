package tests

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestMsgIpcs shows a shmfs namespace's queues with the real ipcs and
// lsipc, by bind-mounting its sysvipc/msg over /proc/sysvipc/msg in a
// private mount namespace.
func TestMsgIpcs(t *testing.T) {
	mnt := mountShmfs(t)
	tool := msgTool(t)
	a := newMsgQueue(t, mnt, 0x301)
	if _, err := runCmd(t, nil, tool, "ops", "file", a, "snd:1:@100", "snd:2:@23", "rcv:2:100:n"); err != nil {
		t.Fatal(err)
	}
	shOK(t, "chown 65534:65534 "+a+" && chmod 0604 "+a)
	res, err := msgCtl(t, filepath.Join(mnt, "default/msg/ctl"), "IPC_CREAT key=IPC_PRIVATE mode=0600")
	if err != nil {
		t.Fatal(err)
	}
	var privID int
	fmt.Sscanf(res, "%d", &privID)
	priv := filepath.Join(mnt, fmt.Sprintf("default/msg/private.%d", privID))
	if _, err := runCmd(t, nil, tool, "ops", "file", priv, "snd:5:@7", "snd:5:@8", "snd:5:@9"); err != nil {
		t.Fatal(err)
	}
	rows := msgTable(t, mnt)
	if len(rows) != 2 {
		t.Fatalf("table: %v", rows)
	}

	out, err := runCmd(t, nil, "unshare", "-m", "sh", "-c",
		`mount --make-rprivate / && mount --bind "$1" /proc/sysvipc/msg && ipcs -q && echo @@lsipc@@ && lsipc -q -b -r --noheadings -o KEY,ID,OWNER,PERMS,USEDBYTES,MSGS,LSPID,LRPID`,
		"sh", filepath.Join(mnt, "default/sysvipc/msg"))
	if err != nil {
		t.Fatal(err)
	}
	ipcsOut, lsipcOut, _ := strings.Cut(out, "@@lsipc@@\n")
	for _, r := range rows {
		owner := "root"
		if r.UID == 65534 {
			owner = "nobody"
		}
		want := fmt.Sprintf("0x%08x %d %s %o %d %d", uint32(r.Key), r.ID, owner, r.Perms, r.CBytes, r.QNum)
		if !containsLine(ipcsOut, want) {
			t.Errorf("ipcs -q lacks %q:\n%s", want, ipcsOut)
		}
		want = fmt.Sprintf("0x%08x %d %s %s %d %d %d %d", uint32(r.Key), r.ID, owner, permString(r.Perms), r.CBytes, r.QNum, r.LSPID, r.LRPID)
		if !containsLine(lsipcOut, want) {
			t.Errorf("lsipc -q lacks %q:\n%s", want, lsipcOut)
		}
	}
}

// containsLine reports whether text has a line whose blank-separated
// fields are those of want.
func containsLine(text, want string) bool {
	w := strings.Join(strings.Fields(want), " ")
	for _, l := range strings.Split(text, "\n") {
		if strings.Join(strings.Fields(l), " ") == w {
			return true
		}
	}
	return false
}

// permString is mode as ls shows the nine permission bits.
func permString(mode uint32) string {
	const rwx = "rwxrwxrwx"
	b := []byte("---------")
	for i := range b {
		if mode&(1<<(8-i)) != 0 {
			b[i] = rwx[i]
		}
	}
	return string(b)
}
