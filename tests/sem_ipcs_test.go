package tests

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestSemIpcs shows a shmfs namespace's semaphore sets with the real
// ipcs and lsipc, by bind-mounting its sysvipc/sem over
// /proc/sysvipc/sem in a private mount namespace.
func TestSemIpcs(t *testing.T) {
	mnt := mountShmfs(t)
	ctl := filepath.Join(mnt, "default/sem/ctl")
	semCtlOK(t, ctl, "IPC_CREAT key=0x162e nsems=3 mode=0640")
	semCtlOK(t, ctl, "IPC_CREAT key=IPC_PRIVATE nsems=1 mode=0600")
	set := filepath.Join(mnt, "default/sem/0x0000162e")
	shOK(t, "chown 65534:65534 "+set)
	if got := semRun(t, "op", set, "2 1"); got != "ok" {
		t.Fatal(got)
	}

	out, err := runCmd(t, nil, "unshare", "-m", "sh", "-c",
		`mount --make-rprivate / && mount --bind "$1" /proc/sysvipc/sem && ipcs -s && echo @@lsipc@@ && lsipc -s -r --noheadings -o KEY,ID,OWNER,PERMS,NSEMS,CUID,CGID,UID,GID`,
		"sh", filepath.Join(mnt, "default/sysvipc/sem"))
	if err != nil {
		t.Fatal(err)
	}
	ipcsOut, lsipcOut, _ := strings.Cut(out, "@@lsipc@@\n")
	for _, want := range []string{"0x0000162e 0 nobody 640 3", "0x00000000 1 root 600 1"} {
		if !semHasLine(ipcsOut, want) {
			t.Errorf("ipcs -s lacks %q:\n%s", want, ipcsOut)
		}
	}
	for _, want := range []string{"0x0000162e 0 nobody rw-r----- 3 0 0 65534 65534", "0x00000000 1 root rw------- 1 0 0 0 0"} {
		if !semHasLine(lsipcOut, want) {
			t.Errorf("lsipc -s lacks %q:\n%s", want, lsipcOut)
		}
	}
}

// semHasLine reports whether text has a line whose blank-separated
// fields are those of want.
func semHasLine(text, want string) bool {
	w := strings.Join(strings.Fields(want), " ")
	for _, l := range strings.Split(text, "\n") {
		if strings.Join(strings.Fields(l), " ") == w {
			return true
		}
	}
	return false
}
