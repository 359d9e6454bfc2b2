package nsmodel_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/nsmodel"
)

// creatorScript makes segments in the kernel, from its main thread or
// from a thread of its own, as its standard input asks, and prints each
// one's id and the creating thread's id.
const creatorScript = `
import ctypes, sys, threading
libc = ctypes.CDLL(None, use_errno=True)
def make():
    print(libc.shmget(0, 4096, 0o1600), threading.get_native_id(), flush=True)
end = threading.Event()
def thread():
    make()
    end.wait()
t = None
for line in sys.stdin:
    cmd = line.strip()
    if cmd == "make":
        make()
    elif cmd == "thread":
        t = threading.Thread(target=thread)
        t.start()
    elif cmd == "end-thread":
        end.set()
        t.join()
        print("joined", flush=True)
`

// creatorProc is a process that makes segments in the kernel while the test
// makes their twins in the model in its name.
type creatorProc struct {
	t   *testing.T
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

// startCreator starts a creator in the calling thread's IPC namespace.
func startCreator(t *testing.T) *creatorProc {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	cmd := exec.Command(py, "-c", creatorScript)
	cmd.Stderr = os.Stderr
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		fatal(t, "start python3: %v", err)
	}
	return &creatorProc{t: t, cmd: cmd, in: in, out: bufio.NewReader(out)}
}

// ask sends one command and reads the answer line.
func (c *creatorProc) ask(cmd string) string {
	fmt.Fprintln(c.in, cmd)
	line, err := c.out.ReadString('\n')
	if err != nil {
		c.t.Errorf("creator, after %q: %v", cmd, err)
	}
	return strings.TrimSpace(line)
}

// make has the creator (from its main thread, or from a new thread that
// lives until endThread) make a kernel segment, and makes the model's
// in the creating thread's name.
func (c *creatorProc) make(ns *nsmodel.Namespace, inThread bool) (kid int, s *nsmodel.Shm, tid int) {
	cmd := "make"
	if inThread {
		cmd = "thread"
	}
	if _, err := fmt.Sscan(c.ask(cmd), &kid, &tid); err != nil || kid < 0 {
		fatal(c.t, "creator's shmget: %d %v", kid, err)
	}
	s, err := ns.Shm.Get(nsmodel.NewFixedCred(0, 0, int32(tid), nil, ^uint64(0)), nsmodel.ShmGet{Key: nsmodel.IPCPrivate, Size: 4096, Mode: 0o600, Create: true})
	if err != nil {
		fatal(c.t, "model shmget: %v", err)
	}
	return kid, s, tid
}

// endThread ends the creator's thread, and returns once the thread is
// gone from /proc: pthread_join returns before the exiting thread runs
// exit_shm, its release comes after.
func (c *creatorProc) endThread(tid int) {
	if got := c.ask("end-thread"); got != "joined" {
		c.t.Errorf("end-thread: %q", got)
	}
	task := fmt.Sprintf("/proc/%d/task/%d", c.cmd.Process.Pid, tid)
	for {
		if _, err := os.Stat(task); os.IsNotExist(err) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// exit ends the creator and waits for it.
func (c *creatorProc) exit() {
	c.in.Close()
	if err := c.cmd.Wait(); err != nil {
		c.t.Errorf("creator: %v", err)
	}
}

// fatal ends a test from the thread of inPrivateIPC, which may not call
// t.Fatal.
func fatal(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Errorf(format, args...)
	runtime.Goexit()
}

// twin is a segment in the kernel and in the model.
type twin struct {
	kid  int
	s    *nsmodel.Shm
	addr uintptr // the kernel's attach by the test, 0 if none
}

func (w *twin) attach(t *testing.T, ns *nsmodel.Namespace) {
	addr, _, e := unix.Syscall(unix.SYS_SHMAT, uintptr(w.kid), 0, 0)
	if e != 0 {
		fatal(t, "shmat: %v", e)
	}
	w.addr = addr
	if err := ns.Shm.Attach(root(), w.s, nsmodel.AccessRead|nsmodel.AccessWrite); err != nil {
		fatal(t, "model attach: %v", err)
	}
}

func (w *twin) detach(ns *nsmodel.Namespace) {
	unix.Syscall(unix.SYS_SHMDT, w.addr, 0, 0)
	w.addr = 0
	ns.Shm.Detach(w.s, int32(os.Getpid()))
}

// alive wants the kernel and the model to agree on whether w lives, and
// it to be want.
func (w *twin) alive(t *testing.T, ns *nsmodel.Namespace, what string, want bool) {
	t.Helper()
	var ds unix.SysvShmDesc
	_, kerr := unix.SysvShmCtl(w.kid, unix.IPC_STAT, &ds)
	_, merr := ns.Shm.Lookup(nsmodel.Ref{ByID: true, ID: ns.Shm.Stat(w.s).ID})
	if k, m := kerr == nil, merr == nil; k != want || m != want {
		t.Errorf("%s: segment %d alive in the kernel %v, in the model %v; want %v", what, w.kid, k, m, want)
	}
}

func setForced(t *testing.T, ns *nsmodel.Namespace, v string) {
	t.Helper()
	if err := setSysctl("shm_rmid_forced", v); err != nil {
		t.Errorf("kernel shm_rmid_forced=%s: %v", v, err)
	}
	setLimit(t, ns, "shm_rmid_forced", v)
}

// TestRmidForcedAsTheKernel runs the cases of shm_rmid_forced against
// the kernel (in a private IPC namespace) and the model, with a real
// process, or a real thread, as the creator of each pair of segments;
// the model learns of the creator's exit from its pidfd alone.
func TestRmidForcedAsTheKernel(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, ns *nsmodel.Namespace, c *creatorProc)
	}{
		{"an exit with 0 orphans; setting 1 destroys the orphans with no attach", func(t *testing.T, ns *nsmodel.Namespace, c *creatorProc) {
			var a, b twin
			a.kid, a.s, _ = c.make(ns, false)
			b.kid, b.s, _ = c.make(ns, false)
			b.attach(t, ns)
			c.exit()
			a.alive(t, ns, "after the exit, with 0", true)
			setForced(t, ns, "1")
			a.alive(t, ns, "unattached orphan, once set", false)
			b.alive(t, ns, "attached orphan, once set", true)
			b.detach(ns)
			b.alive(t, ns, "attached orphan, at its last detach", false)
		}},
		{"with 1, the exit destroys what has no attach", func(t *testing.T, ns *nsmodel.Namespace, c *creatorProc) {
			setForced(t, ns, "1")
			var a, b twin
			a.kid, a.s, _ = c.make(ns, false)
			b.kid, b.s, _ = c.make(ns, false)
			b.attach(t, ns)
			a.alive(t, ns, "before the exit", true)
			c.exit()
			a.alive(t, ns, "unattached, after the exit", false)
			b.alive(t, ns, "attached, after the exit", true)
			b.detach(ns)
			b.alive(t, ns, "after its last detach", false)
		}},
		{"with 1, a last detach destroys though the creator lives", func(t *testing.T, ns *nsmodel.Namespace, c *creatorProc) {
			setForced(t, ns, "1")
			var a twin
			a.kid, a.s, _ = c.make(ns, false)
			a.attach(t, ns)
			a.detach(ns)
			a.alive(t, ns, "after the last detach", false)
			c.exit()
		}},
		{"the creator is the thread: its exit is the creator's exit", func(t *testing.T, ns *nsmodel.Namespace, c *creatorProc) {
			setForced(t, ns, "1")
			var a, b twin
			var tid int
			a.kid, a.s, _ = c.make(ns, false)
			b.kid, b.s, tid = c.make(ns, true)
			c.endThread(tid)
			b.alive(t, ns, "made by the thread, after it ended", false)
			a.alive(t, ns, "made by the main thread, which lives", true)
			c.exit()
			a.alive(t, ns, "made by the main thread, after the exit", false)
		}},
		{"set to 1 then 0: an exit orphans only", func(t *testing.T, ns *nsmodel.Namespace, c *creatorProc) {
			setForced(t, ns, "1")
			setForced(t, ns, "0")
			var a twin
			a.kid, a.s, _ = c.make(ns, false)
			a.attach(t, ns)
			a.detach(ns)
			a.alive(t, ns, "after a last detach with 0", true)
			c.exit()
			a.alive(t, ns, "after the exit with 0", true)
			setForced(t, ns, "1")
			a.alive(t, ns, "once set again", false)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := newModel(t)
			ns := m.Get(nsmodel.DefaultNamespace)
			var mu sync.Mutex
			gone := 0
			m.Gone = func(table any, name string) {
				mu.Lock()
				gone++
				mu.Unlock()
			}
			inPrivateIPC(t, func() {
				c := startCreator(t)
				defer func() {
					if c.cmd.ProcessState == nil {
						c.exit()
					}
				}()
				tc.run(t, ns, c)
				sameInfo(t, ns, 0, tc.name)
			})
			mu.Lock()
			defer mu.Unlock()
			if gone == 0 {
				t.Errorf("Model.Gone was told of no segment")
			}
		})
	}
}
