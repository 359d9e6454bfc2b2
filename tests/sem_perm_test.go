package tests

import (
	"path/filepath"
	"strings"
	"testing"
)

// semRunAsNobody runs the driver as uid and gid 65534, with no groups.
func semRunAsNobody(t testing.TB, args ...string) string {
	t.Helper()
	out, _ := runCmd(t, nil, "setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", semTool(t)}, args...)...)
	return strings.TrimSpace(out)
}

// semShAsNobody runs a shell command as nobody and returns its error
// output, or "" when it succeeded.
func semShAsNobody(t testing.TB, script string) string {
	t.Helper()
	if _, err := shAs(t, 65534, 65534, script); err != nil {
		return err.Error()
	}
	return ""
}

// semCtlAsNobody writes a command to a ctl file as nobody and returns
// the answer read back, or the name of the errno.
func semCtlAsNobody(t testing.TB, ctl, cmd string) string {
	t.Helper()
	const script = `
import errno, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    os.write(fd, sys.argv[2].encode())
    print(os.pread(fd, 100, 0).decode().strip())
except OSError as e:
    print(errno.errorcode[e.errno])
`
	out, err := runCmd(t, nil, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", semPython(), "-c", script, ctl, cmd)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// TestSemPermissions: an unprivileged user gets from a root's set what
// the kernel would give it: read for the values and for waiting for
// zero, write to alter, ownership for IPC_SET and IPC_RMID.
func TestSemPermissions(t *testing.T) {
	mnt := mountShmfs(t)
	ctl, set := semSet(t, mnt, 0x60, "0 3")
	shOK(t, "chmod 600 "+set)

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"op", set, "0 1"}, "EACCES"},
		{[]string{"op", set, "0 0"}, "EACCES"},
		{[]string{"op", set, "SETVAL 0 1"}, "EACCES"},
		{[]string{"bop", set, "1", "-1", "0"}, "EACCES"},
		{[]string{"op", set, "5 1"}, "EFBIG"},
	} {
		if got := semRunAsNobody(t, c.args...); got != c.want {
			t.Errorf("nobody %v on mode 600: %s, want %s", c.args, got, c.want)
		}
	}
	for _, c := range []struct{ script, want string }{
		{"cat " + set, "Permission denied"},
		{"echo '0 1' 1<>" + set, "Permission denied"},
		{"rm -f " + set, "Operation not permitted"},
		{"chmod 666 " + set, "Operation not permitted"},
		{"chown 65534 " + set, "Operation not permitted"},
	} {
		if got := semShAsNobody(t, c.script); !strings.Contains(got, c.want) {
			t.Errorf("nobody: %s: %q, want %q", c.script, got, c.want)
		}
	}
	for _, c := range []struct{ cmd, want string }{
		{"SETVAL 0x60 0 1", "EACCES"},
		{"SETALL 0x60 1 1", "EACCES"},
		{"GETVAL 0x60 0", "EACCES"},
		{"GETALL 0x60", "EACCES"},
		{"GETNCNT 0x60 0", "EACCES"},
		{"IPC_SET 0x60 mode=0666", "EPERM"},
		{"IPC_RMID 0x60", "EPERM"},
		{"IPC_CREAT key=0x60 nsems=1 mode=0600", "EACCES"},
		{"IPC_CREAT key=0x60 nsems=1 mode=0", "0 0x00000060"},
	} {
		if got := semCtlAsNobody(t, ctl, c.cmd); got != c.want {
			t.Errorf("nobody: %s: %q, want %q", c.cmd, got, c.want)
		}
	}
	if got := semValues(t, set); got != "0 3" {
		t.Errorf("refusals changed the values: %q", got)
	}
	if row := semTable(t, mnt)["96"]; row.perms != "600" || row.uid != "0" || row.otime != "0" {
		t.Errorf("refusals changed the set: %+v", row)
	}

	// Read permission lets nobody read the values and wait for zero, and
	// nothing more.
	shOK(t, "chmod 644 "+set)
	if got := semShAsNobody(t, "cat "+set); got != "" {
		t.Errorf("nobody reading mode 644: %s", got)
	}
	if got := semRunAsNobody(t, "op", set, "0 0"); got != "ok" {
		t.Errorf("nobody waiting for zero on mode 644: %s", got)
	}
	if got := semRunAsNobody(t, "op", set, "0 0; 1 -1"); got != "EACCES" {
		t.Errorf("nobody altering mode 644: %s", got)
	}
	shOK(t, "chmod 646 "+set)
	if got := semRunAsNobody(t, "op", set, "0 1 SEM_UNDO; 1 -1"); got != "ok" {
		t.Errorf("nobody altering mode 646: %s", got)
	}
	if got := semValues(t, set); got != "0 2" {
		t.Errorf("after nobody's semop and exit: %q", got)
	}

	// Nobody's own set is nobody's to do with as it likes, root's too.
	own := filepath.Join(mnt, "default/sem/0x00000061")
	if got := semShAsNobody(t, "umask 077; echo '0 2' > "+own+" && chmod 400 "+own+" && cat "+own); got != "" {
		t.Errorf("nobody's own set: %s", got)
	}
	if row := semTable(t, mnt)["97"]; row.uid != "65534" || row.cuid != "65534" || row.perms != "400" {
		t.Errorf("nobody's set: %+v", row)
	}
	if got := semRunAsNobody(t, "op", own, "0 -1"); got != "EACCES" {
		t.Errorf("nobody altering its own mode-400 set: %s", got)
	}
	if got := semValues(t, own); got != "2" {
		t.Errorf("root reading nobody's set: %q", got)
	}
	if got := semShAsNobody(t, "rm "+own); got != "" {
		t.Errorf("nobody removing its own set: %s", got)
	}
}
