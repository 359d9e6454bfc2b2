package tests

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// semDocExample returns the code block under the heading "### <title>"
// of docs/sem.md, with the documented mount point replaced by mnt.
func semDocExample(t testing.TB, title, mnt string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(file)), "docs/sem.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "\n### "+title+"\n")
	if !ok {
		t.Fatalf("docs/sem.md has no section %q", title)
	}
	_, rest, ok = strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("docs/sem.md: no code in %q", title)
	}
	_, rest, _ = strings.Cut(rest, "\n")
	code, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("docs/sem.md: unterminated code in %q", title)
	}
	return strings.ReplaceAll(code, "/mnt/shmfs", mnt)
}

// TestSemDocShell runs the shell example of docs/sem.md, twice over in
// parallel, and checks its counter.
func TestSemDocShell(t *testing.T) {
	mnt := mountShmfs(t)
	dir := t.TempDir()
	script := "NS=" + mnt + "/default\n" + semDocExample(t, "sh", mnt)
	// The example's end removes the set; the parallel runs stop before.
	body, _, _ := strings.Cut(script, "\ncat \"$S\"")
	if err := os.WriteFile(filepath.Join(dir, "counter"), []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	loop := "cd " + dir + " && for i in $(seq 40); do\n" + body + "\ndone"
	done := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() { _, err := sh(t, loop); done <- err }()
	}
	for i := 0; i < 2; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "counter")); string(b) != "80\n" {
		t.Errorf("counter %q, want 80", b)
	}
	out, err := sh(t, "cd "+dir+" && "+script)
	if err != nil {
		t.Fatalf("the example: %v", err)
	}
	if out != "1\nbusy\n" {
		t.Errorf("the example printed %q", out)
	}
	if _, err := os.Stat(filepath.Join(mnt, "default/sem/0x00001234")); !os.IsNotExist(err) {
		t.Errorf("the example's rm left the set: %v", err)
	}
}

// TestSemDocPython runs the Python example of docs/sem.md.
func TestSemDocPython(t *testing.T) {
	mnt := mountShmfs(t)
	out, err := runCmd(t, nil, semPython(), "-c", semDocExample(t, "Python", mnt))
	if err != nil {
		t.Fatal(err)
	}
	if out != "timed out\n0 1\n0\n1\n" {
		t.Errorf("the example printed %q", out)
	}
}

// TestSemDocC builds and runs the C example of docs/sem.md.
func TestSemDocC(t *testing.T) {
	mnt := mountShmfs(t)
	bin := buildC(t, "semdoc", semDocExample(t, "C", mnt))
	semCtlOK(t, filepath.Join(mnt, "default/sem/ctl"), "IPC_CREAT key=0x1234 nsems=2 mode=0600")
	semCtlOK(t, filepath.Join(mnt, "default/sem/ctl"), "SETALL 0x1234 1 7")
	out, err := runCmd(t, nil, bin)
	if err != nil {
		t.Fatal(err)
	}
	if out != "values: 1 7\n" {
		t.Errorf("the example printed %q", out)
	}
}
