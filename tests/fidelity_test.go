package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFidelityAsTheKernel runs one scenario (fidelity_tool_test.go) on
// the kernel, in a private IPC namespace, with the System V calls, and on
// a fresh shmfs namespace through its files, and wants the same lines
// from both: every id (from creates, and from creates after a *_next_id
// write), every errno, every surviving object with its key, id, mode,
// size, nattch and rss, and every IPC_INFO and *_INFO figure, through
// creators that exit (a process, and a thread of a living process) with
// shm_rmid_forced 0 and then 1, attaches, last detaches and removals.
func TestFidelityAsTheKernel(t *testing.T) {
	mnt := mountShmfs(t)
	tool := fidelityTool(t)
	ns := filepath.Join(mnt, "fid")
	if err := os.Mkdir(ns, 0o755); err != nil {
		t.Fatal(err)
	}
	kernel, err := runCmd(t, nil, "unshare", "-i", tool, "kernel")
	if err != nil {
		t.Fatal(err)
	}
	ours, err := runCmd(t, nil, tool, "files", ns)
	if err != nil {
		t.Fatal(err)
	}
	kl := strings.Split(kernel, "\n")
	ol := strings.Split(ours, "\n")
	step, diffs := "", 0
	for i := 0; i < max(len(kl), len(ol)); i++ {
		var k, o string
		if i < len(kl) {
			k = kl[i]
		}
		if i < len(ol) {
			o = ol[i]
		}
		if strings.HasPrefix(k, "step ") {
			step = k
		}
		if k != o {
			t.Errorf("line %d, in %q:\nkernel %q\nshmfs  %q", i+1, step, k, o)
			if diffs++; diffs == 5 {
				break
			}
		}
	}
	if t.Failed() {
		t.Logf("kernel:\n%s\nshmfs:\n%s", kernel, ours)
	}
}

// TestRmidForcedDropsNames: a segment that shm_rmid_forced destroys
// without a request on its name (an orphan when the value is set, a
// segment whose creator exits, one at its last detach) loses its name at
// once, though the kernel had it cached: stat finds nothing, and ls does
// not list it.
func TestRmidForcedDropsNames(t *testing.T) {
	mnt := mountShmfs(t)
	dir := filepath.Join(mnt, "default/shm")
	// A creator that exits at once: the orphan.
	shOK(t, "echo 'IPC_CREAT key=0x71 size=4096' > "+dir+"/ctl")
	shOK(t, "stat "+dir+"/0x00000071 >/dev/null")
	shOK(t, "echo 1 > "+mnt+"/default/limits/shm_rmid_forced")
	mustNotExist(t, dir+"/0x00000071", "once shm_rmid_forced is set")

	// A creator alive while the name is looked up, then gone.
	shOK(t, `sh -c 'echo "IPC_CREAT key=0x72 size=4096" > `+dir+`/ctl; stat `+dir+`/0x00000072 >/dev/null'`)
	waitFor(t, "the exited creator's segment to lose its name", func() bool {
		_, err := os.Stat(dir + "/0x00000072")
		return os.IsNotExist(err)
	})

	// A last detach. (With the value set, a segment made by
	// open(O_CREAT) goes at its close, as shmget, shmat and shmdt would
	// make it go.)
	shOK(t, "exec 3> "+dir+"/0x00000073; stat "+dir+"/0x00000073 > /dev/null; exec 3>&-")
	waitFor(t, "the detached segment to lose its name", func() bool {
		_, err := os.Stat(dir + "/0x00000073")
		return os.IsNotExist(err)
	})
	if ls := shOK(t, "ls "+dir); strings.Contains(ls, "0x") {
		t.Errorf("ls lists destroyed segments: %q", ls)
	}
}
