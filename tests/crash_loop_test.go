package tests

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestCrashLoopGivesUp: a server that keeps dying is restarted at most
// --max-restarts times within a minute; the next death ends the keeper,
// with one log line saying why, and leaves no mount and no process.
func TestCrashLoopGivesUp(t *testing.T) {
	logPath := t.TempDir() + "/shmfs.log"
	mnt := mountShmfs(t, "--max-restarts=1", "--log", logPath)
	killServer(t, mnt)
	st := crashStatus(t, mnt)
	if err := syscall.Kill(st.ServerPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the keeper to give up", func() bool {
		return syscall.Kill(st.KeeperPID, 0) != nil || isZombie(st.KeeperPID)
	})
	waitFor(t, "the mount to go", func() bool { return !isMounted(mnt) })
	data, _ := os.ReadFile(logPath)
	var why []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, "giving up") {
			why = append(why, line)
		}
	}
	if len(why) != 1 || !strings.Contains(why[0], "2 times") || !strings.Contains(why[0], "signal 9") {
		t.Errorf("log lines saying why the keeper stopped: %q\nlog:\n%s", why, data)
	}
	if syscall.Kill(st.ServerPID, 0) == nil && !isZombie(st.ServerPID) {
		t.Error("the server is still running")
	}
}

// isZombie reports whether pid has exited and waits to be reaped.
func isZombie(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	return len(f) > 0 && f[0] == "Z"
}
