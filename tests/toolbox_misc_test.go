package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestToolboxHelpFlags: --help lists every flag as the docs write it,
// --name, and never with a "(default true)" that contradicts its text.
func TestToolboxHelpFlags(t *testing.T) {
	for _, cmd := range [][]string{{"mount", "--help"}, {"umount", "--help"}, {"install", "--help"}} {
		out, errs, code := runShmfs(t, cmd...)
		if code != 0 || errs != "" {
			t.Fatalf("%q: exit %d %q", cmd, code, errs)
		}
		_, flags, _ := strings.Cut(out, "flags:\n")
		heads := regexp.MustCompile(`(?m)^  (\S+)`).FindAllStringSubmatch(flags, -1)
		if len(heads) == 0 {
			t.Errorf("%q lists no flags:\n%s", cmd, out)
		}
		for _, h := range heads {
			if !strings.HasPrefix(h[1], "--") {
				t.Errorf("%q shows flag %q, not as --name", cmd, h[1])
			}
		}
		if strings.Contains(out, "(default true)") || strings.Contains(out, "(default false)") {
			t.Errorf("%q shows a boolean default:\n%s", cmd, out)
		}
	}
	out, _, _ := runShmfs(t, "mount", "--help")
	for _, f := range []string{"--allow-other", "--background", "--debug", "--isolate", "--log FILE", "--no-passthrough"} {
		if !strings.Contains(out, "\n  "+f+"\n") {
			t.Errorf("mount --help lacks %q:\n%s", f, out)
		}
	}
}

// TestToolboxStatfs: statfs on any file of the mount gives a name length
// (getconf NAME_MAX printed 0) and a block size, and the mount's type is
// fuse.shmfs.
func TestToolboxStatfs(t *testing.T) {
	mnt := mountShmfs(t)
	shOK(t, "truncate -s 4096 "+mnt+"/default/shm/0x00000001")
	for _, p := range []string{mnt, mnt + "/default", mnt + "/default/shm", mnt + "/default/shm/0x00000001", mnt + "/default/sysvipc/shm"} {
		if out := strings.TrimSpace(shOK(t, "getconf NAME_MAX "+p)); out != "255" {
			t.Errorf("getconf NAME_MAX %s: %q, want 255", p, out)
		}
		if out := strings.Fields(shOK(t, "stat -f -c '%l %S %T' "+p)); len(out) != 3 || out[0] != "255" || out[1] != "4096" || out[2] != "fuseblk" && out[2] != "fuse" {
			t.Errorf("stat -f %s: %q", p, out)
		}
	}
	if got := mountFstype(mnt); got != "fuse.shmfs" {
		t.Errorf("type %q", got)
	}
	if out := shOK(t, "df --output=fstype,size "+mnt); !strings.Contains(out, "fuse.shmfs") {
		t.Errorf("df: %q", out)
	}
}

// TestToolboxContainersTmpdir: examples/containers.sh makes its files
// under $TMPDIR when it is set, and leaves nothing there.
func TestToolboxContainersTmpdir(t *testing.T) {
	tmp, err := os.MkdirTemp("", "shmfs-tmpdir-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(tmp, 0o755)
	t.Cleanup(func() { os.RemoveAll(tmp) })
	script := filepath.Join(repoRoot(t), "examples", "containers.sh")
	out, err := runCmd(t, []string{"SHMFS=" + shmfsBin, "TMPDIR=" + tmp}, "sh", script)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "== mounting shmfs with --isolate on "+tmp+"/shmfs-containers.") {
		t.Errorf("the demo did not work under TMPDIR=%s:\n%s", tmp, out)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the demo left %v in TMPDIR", left)
	}
	if b, _ := exec.Command("grep", "-c", tmp, "/proc/self/mounts").Output(); strings.TrimSpace(string(b)) != "0" {
		t.Error("the demo left a mount behind")
	}
}
