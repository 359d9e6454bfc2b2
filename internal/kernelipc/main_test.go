package kernelipc_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shmfs/shmfs/internal/kernelipc"
	"golang.org/x/sys/unix"
)

// The tests run in an IPC namespace of their own: TestMain runs the test
// binary again under `unshare -i`, so that nothing they make or change
// (segments, limits) reaches the host's namespace.
const privateEnv = "KERNELIPC_TEST_PRIVATE_IPC"

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "kernelipc: the tests need root (setns, per-thread credentials)")
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "kernelipc: skipping: not root")
		os.Exit(0)
	}
	if os.Getenv(privateEnv) == "" {
		cmd := exec.Command("unshare", append([]string{"-i", "--"}, os.Args...)...)
		cmd.Env = append(os.Environ(), privateEnv+"=1")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				os.Exit(ee.ExitCode())
			}
			fmt.Fprintln(os.Stderr, "kernelipc: unshare -i:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// selfNS is the test process's own (private) namespace, reached through
// a fresh Manager that the test closes.
func selfNS(t *testing.T, b kernelipc.Bounds) (*kernelipc.Manager, *kernelipc.Namespace) {
	t.Helper()
	m := kernelipc.NewManager(b)
	t.Cleanup(m.Close)
	id, err := kernelipc.Of(int32(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	ns, err := m.Get(id, int32(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	return m, ns
}

// container starts `unshare -i` running script under sh (a new IPC
// namespace with one process) and returns its pid and namespace once the
// script has printed "ready". It is killed when the test ends.
func container(t *testing.T, script string) (*exec.Cmd, kernelipc.NSID) {
	t.Helper()
	cmd := exec.Command("unshare", "-i", "sh", "-c", script)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	// Its own process group, so that the end of the test kills what sh
	// started too (a child left holding stderr keeps go test waiting).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() })
	buf := make([]byte, 64)
	n, _ := out.Read(buf)
	if !strings.Contains(string(buf[:n]), "ready") {
		t.Fatalf("container said %q", buf[:n])
	}
	id, err := kernelipc.Of(int32(cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	return cmd, id
}

// pyShmget is a python3 program that makes a segment with shmget
// (ctypes, no module needed) and writes text into it by shmat.
func pyShmget(key, size int, text string) string {
	return fmt.Sprintf(`python3 -c '
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
i = libc.shmget(%d, %d, 0o1600)
assert i >= 0, ctypes.get_errno()
p = libc.shmat(i, None, 0)
ctypes.memmove(p, b"%s", %d)
print("ready", i, flush=True)
import time
time.sleep(1000)
'`, key, size, text, len(text))
}

func root() *kernelipc.Cred { return kernelipc.NewCred(0, 0, nil) }

func nobody() *kernelipc.Cred { return kernelipc.NewCred(65534, 65534, nil) }

// shmgetHere makes a segment in the test's namespace with the test's own
// shmget and removes it at the end.
func shmgetHere(t *testing.T, key, size, flag int) int {
	t.Helper()
	id, err := unix.SysvShmGet(key, size, flag)
	if err != nil {
		t.Fatalf("shmget: %v", err)
	}
	t.Cleanup(func() { unix.SysvShmCtl(id, unix.IPC_RMID, nil) })
	return id
}

func wantErrno(t *testing.T, what string, err error, want unix.Errno) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want %v", what, err, want)
	}
}

// eventually polls cond until it holds or ten seconds pass; it bounds
// waiting for the kernel or a pool, it asserts no speed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: never happened", what)
}

var _ = context.Background
