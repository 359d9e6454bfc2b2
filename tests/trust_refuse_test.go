package tests

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// attrProbe is a python3 program that tries, on each path given, chown,
// chmod, truncate to 0, utime to now and utime to explicit times, and
// prints one line per path: the path, then OK or the errno's name per
// call, in that order.
const attrProbe = `
import errno, os, sys
def name(f):
    try:
        f()
        return "OK"
    except OSError as e:
        return errno.errorcode[e.errno]
for p in sys.argv[1:]:
    r = [name(lambda: os.chown(p, 65534, 65534)),
         name(lambda: os.chmod(p, 0o600)),
         name(lambda: os.truncate(p, 0)),
         name(lambda: os.utime(p, None)),
         name(lambda: os.utime(p, (1, 1)))]
    print(p, " ".join(r))
`

func probeAttrs(t *testing.T, uid int, paths ...string) map[string]string {
	t.Helper()
	q := make([]string, len(paths))
	for i, p := range paths {
		q[i] = "'" + p + "'"
	}
	script := "python3 -c \"$PROBE\" " + strings.Join(q, " ")
	var out string
	var err error
	if uid == 0 {
		out, err = runCmd(t, []string{"PROBE=" + attrProbe}, "sh", "-c", script)
	} else {
		out, err = runCmd(t, []string{"PROBE=" + attrProbe}, "setpriv", fmt.Sprintf("--reuid=%d", uid), fmt.Sprintf("--regid=%d", uid), "--clear-groups", "sh", "-c", script)
	}
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		p, r, _ := strings.Cut(l, " ")
		got[p] = r
	}
	return got
}

// TestRefusalsAreRefusals: an attribute change that a caller may not
// make on the files and directories the mount owns fails as /proc/sys
// fails it, and changes nothing; an object's truncation by a stranger is
// EACCES for all three kinds alike.
func TestRefusalsAreRefusals(t *testing.T) {
	mnt := mountShmfs(t)
	d := mnt + "/default"
	shOK(t, "echo 'IPC_CREAT key=0x1 size=4096' > "+d+"/shm/ctl && echo 'IPC_CREAT key=0x1' > "+d+"/msg/ctl && echo 'IPC_CREAT key=0x1 nsems=1' > "+d+"/sem/ctl")
	before := shOK(t, "cd "+d+" && stat -c '%n %a %u %g %Y' . ctl shm shm/ctl limits limits/shmmax sysvipc sysvipc/shm "+mnt)

	// What /proc/sys gives the same user is the reference for a limit
	// and a table.
	ref := probeAttrs(t, 65534, "/proc/sys/kernel/shmmax")["/proc/sys/kernel/shmmax"]
	if ref != "EPERM EPERM EACCES EACCES EPERM" {
		t.Logf("/proc/sys/kernel/shmmax as 65534: %s", ref)
	}
	want := map[string]string{
		d + "/limits/shmmax": ref,
		d + "/sysvipc/shm":   ref,
		// ctl is 0666: anyone may truncate it (echo CMD > ctl) and
		// set its times to now; only its owner may set them.
		d + "/ctl":     "EPERM EPERM OK OK EPERM",
		d + "/shm/ctl": "EPERM EPERM OK OK EPERM",
		d + "/msg/ctl": "EPERM EPERM OK OK EPERM",
		// Directories: the VFS refuses the truncation itself.
		d:              "EPERM EPERM EISDIR EACCES EPERM",
		d + "/limits":  "EPERM EPERM EISDIR EACCES EPERM",
		d + "/sysvipc": "EPERM EPERM EISDIR EACCES EPERM",
		mnt:            "EPERM EPERM EISDIR EACCES EPERM",
		d + "/shm":     "EPERM EPERM EISDIR OK EPERM",
		// Root's 0600 objects: no IPC_SET, no truncation, no times.
		d + "/shm/0x00000001": "EPERM EPERM EACCES EACCES EPERM",
		d + "/msg/0x00000001": "EPERM EPERM EACCES EACCES EPERM",
		d + "/sem/0x00000001": "EPERM EPERM EACCES EACCES EPERM",
	}
	var paths []string
	for p := range want {
		paths = append(paths, p)
	}
	got := probeAttrs(t, 65534, paths...)
	for _, p := range paths {
		if got[p] != want[p] {
			t.Errorf("as 65534, chown chmod truncate utime(now) utime(1): %s: %s, want %s", p, got[p], want[p])
		}
	}
	// Root may not chown or chmod them either (/proc/sys: EPERM), and a
	// truncation or a touch by root changes nothing.
	rootRef := probeAttrs(t, 0, "/proc/sys/kernel/shmmax")["/proc/sys/kernel/shmmax"]
	if g := probeAttrs(t, 0, d+"/limits/shmmax")[d+"/limits/shmmax"]; g != rootRef {
		t.Errorf("as root, limits/shmmax: %s, /proc/sys/kernel/shmmax: %s", g, rootRef)
	}
	after := shOK(t, "cd "+d+" && stat -c '%n %a %u %g %Y' . ctl shm shm/ctl limits limits/shmmax sysvipc sysvipc/shm "+mnt)
	if after != before {
		t.Errorf("refused changes changed something:\n%s\nnow\n%s", before, after)
	}
	if v := strings.TrimSpace(shOK(t, "cat "+filepath.Join(d, "limits/shmmax"))); v != "18446744073692774399" {
		t.Errorf("shmmax %s", v)
	}
}
