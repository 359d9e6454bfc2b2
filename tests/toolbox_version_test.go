package tests

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// TestToolboxVersion: shmfs --version and shmfs version print the
// version (-X main.version for a release build), the VCS revision
// (recorded, or said to be unknown), the Go that built the binary, and
// whether this kernel offers FUSE passthrough, which agrees with the
// mode a mount comes up in.
func TestToolboxVersion(t *testing.T) {
	out1, errs, code := runShmfs(t, "--version")
	out2, _, _ := runShmfs(t, "version")
	if code != 0 || errs != "" || out1 != out2 {
		t.Fatalf("--version: exit %d, stderr %q; version and --version differ:\n%s\n%s", code, errs, out1, out2)
	}
	lines := strings.Split(strings.TrimSuffix(out1, "\n"), "\n")
	if len(lines) != 4 || lines[0] != "shmfs (devel)" || !strings.HasPrefix(lines[1], "revision: ") {
		t.Fatalf("--version:\n%s", out1)
	}
	goLine := regexp.MustCompile(`^go: (go\S+) linux/\S+$`).FindStringSubmatch(lines[2])
	if goLine == nil || goLine[1] != runtime.Version() {
		t.Errorf("go line %q, want %s (the suite's go built it)", lines[2], runtime.Version())
	}
	pt := regexp.MustCompile(`^kernel: \S+; FUSE passthrough: (yes|no) \(.+\)$`).FindStringSubmatch(lines[3])
	if pt == nil {
		t.Fatalf("kernel line %q", lines[3])
	}
	// The mode of a mount as root says whether the kernel granted it.
	dir2 := newMountpoint(t)
	ready, errs, code := runShmfs(t, "mount", "--background", dir2)
	if code != 0 {
		t.Fatalf("mount: %s", errs)
	}
	runShmfs(t, "umount", dir2)
	if got := strings.Contains(ready, "segment I/O passthrough"); got != (pt[1] == "yes") {
		t.Errorf("--version says passthrough %s, a mount as root came up as %q", pt[1], ready)
	}

	// A release build names its version and revision.
	bin := filepath.Join(t.TempDir(), "shmfs")
	build := exec.Command("go", "build", "-o", bin, "-ldflags", "-X main.version=9.8.7-test -X main.revision=0123abc", "./cmd/shmfs")
	build.Dir = repoRoot(t)
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	rel, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(rel), "shmfs 9.8.7-test\nrevision: 0123abc\n") {
		t.Errorf("release build --version:\n%s", rel)
	}
}

// repoRoot is the repository the suite runs in.
func repoRoot(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}
