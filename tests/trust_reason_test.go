package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReasonsOnTheHandle: a refused ctl, limits or set command leaves
// one line on the handle it was written to, saying why, which `cat <&3`
// reads after the failed `echo >&3`; the server's log has it too.
func TestReasonsOnTheHandle(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "shmfs.log")
	mnt := mountShmfs(t, "--log", logFile)
	d := mnt + "/default"
	shOK(t, "echo 'IPC_CREAT key=0x7 nsems=2' > "+d+"/sem/ctl")
	// Each line: the command written, and the line read back.
	script := `
try() { exec 3<>"$1"; if echo "$2" >&3 2>/dev/null; then echo "accepted: $2"; else cat <&3; fi; exec 3>&-; }
try ` + d + `/shm/ctl 'IPC_CREAT key=0x5'
try ` + d + `/shm/ctl 'IPC_CREAT key=0x5 size=4096 mode=0999'
try ` + d + `/shm/ctl 'IPC_CREAT key=0x5 size=4096'
try ` + d + `/shm/ctl 'IPC_CREAT key=0x5 size=4096 IPC_EXCL'
try ` + d + `/shm/ctl 'IPC_RMID 0x00000009'
try ` + d + `/shm/ctl 'FROB 0x00000005'
try ` + d + `/shm/ctl 'IPC_SET 0x00000005'
try ` + d + `/msg/ctl 'IPC_CREAT key=0x5 mode=0600 bogus=1'
try ` + d + `/sem/ctl 'IPC_CREAT key=0x6'
try ` + d + `/sem/ctl 'SETVAL 0x00000007 0 99999'
try ` + d + `/limits/shmmni 'lots'
try ` + d + `/sem/0x00000007 '0 x'
`
	got := strings.Split(strings.TrimSpace(shOK(t, script)), "\n")
	want := []string{
		"EINVAL: size= is required",
		"EINVAL: mode 0999 is not octal",
		"accepted: IPC_CREAT key=0x5 size=4096",
		"EEXIST: key 0x5 exists (IPC_EXCL)",
		"ENOENT: no object 0x00000009",
		"EINVAL: unknown command FROB",
		"EINVAL: IPC_SET sets nothing",
		"EINVAL: IPC_CREAT does not take bogus=",
		"EINVAL: nsems= is required",
		"ERANGE: value 99999 is outside 0..32767",
		"EINVAL: \"lots\" is not a decimal number",
		"EINVAL: not a semop",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("line %d: %q, want it to start %q", i, got[i], want[i])
		}
	}
	// The set kept its values, and its next read shows them again.
	if v := strings.TrimSpace(shOK(t, "cat "+d+"/sem/0x00000007")); v != "0 0" {
		t.Errorf("set after refusals: %q", v)
	}
	log, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"size= is required", "key 0x5 exists (IPC_EXCL)", "not a semop"} {
		if !strings.Contains(string(log), w) {
			t.Errorf("server log lacks %q:\n%s", w, log)
		}
	}
}
