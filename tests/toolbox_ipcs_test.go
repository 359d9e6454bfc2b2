package tests

import (
	"strings"
	"testing"
)

// TestToolboxIpcs: shmfs ipcs and shmfs lsipc run the real tools on a
// namespace directory, with its tables and limits in place of /proc's in
// a mount namespace of their own: their output lists the namespace's
// objects and limits (not the host's), their exit status is theirs, and
// the host's /proc is untouched.
func TestToolboxIpcs(t *testing.T) {
	mnt := mountShmfs(t)
	ns := mnt + "/default"
	shOK(t, "mkdir "+mnt+"/other")
	shOK(t, "echo 'IPC_CREAT key=0x162e size=4096 mode=0640' > "+ns+"/shm/ctl")
	shOK(t, "echo 'IPC_CREAT key=0x42 mode=0600' > "+ns+"/msg/ctl")
	shOK(t, "echo 'IPC_CREAT key=0x43 nsems=3 mode=0600' > "+ns+"/sem/ctl")
	shOK(t, "echo 12345 > "+ns+"/limits/shmmni")
	shOK(t, "echo 'IPC_CREAT key=0x777 size=1 mode=0600' > "+mnt+"/other/shm/ctl")

	out, errs, code := runShmfs(t, "ipcs", ns)
	if code != 0 || errs != "" {
		t.Fatalf("shmfs ipcs: exit %d, %q", code, errs)
	}
	var rows []string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) >= 5 && strings.HasPrefix(f[0], "0x") {
			rows = append(rows, strings.Join(f[:5], " "))
		}
	}
	want := []string{"0x00000042 0 root 600 0", "0x0000162e 0 root 640 4096", "0x00000043 0 root 600 3"}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("shmfs ipcs default:\n%s\nwant rows\n%s", out, strings.Join(want, "\n"))
	}
	if out, _, _ := runShmfs(t, "ipcs", "-m", mnt+"/other"); !strings.Contains(out, "0x00000777") || strings.Contains(out, "0x0000162e") {
		t.Errorf("shmfs ipcs -m other:\n%s", out)
	}
	if out, _, _ := runShmfs(t, "ipcs", "-l", ns); !strings.Contains(out, "max number of segments = 12345") {
		t.Errorf("shmfs ipcs -l: the namespace's shmmni is not shown:\n%s", out)
	}
	out, _, code = runShmfs(t, "lsipc", "-m", "--noheadings", "-o", "KEY,SIZE", "-b", ns)
	if code != 0 || strings.Fields(out)[0] != "0x0000162e" || strings.Fields(out)[1] != "4096" {
		t.Errorf("shmfs lsipc -m: exit %d:\n%s", code, out)
	}
	// ipcs's own exit status and message, for a bad option.
	_, errs, code = runShmfs(t, "ipcs", "--bogus", ns)
	_, realErrs, realCode := runAs(t, -1, nil, "ipcs", "--bogus")
	if code != realCode || code == 0 || errs != realErrs {
		t.Errorf("shmfs ipcs --bogus: exit %d %q; ipcs --bogus: exit %d %q", code, errs, realCode, realErrs)
	}
	// Not a namespace directory: one line, and ipcs is not run.
	_, errs, code = runShmfs(t, "ipcs", mnt)
	if code != 1 || !strings.HasPrefix(errs, "shmfs: ipcs: "+mnt+" is not a shmfs namespace directory: sysvipc/shm: no such file or directory") {
		t.Errorf("shmfs ipcs MOUNT: exit %d, %q", code, errs)
	}
	// The host's /proc is its own.
	if host := shOK(t, "cat /proc/sys/kernel/shmmni"); strings.TrimSpace(host) == "12345" {
		t.Error("the host's shmmni shows the namespace's")
	}
}
