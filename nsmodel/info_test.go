package nsmodel_test

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/nsmodel"
)

// TestInfoAsTheKernel applies one pseudo-random sequence of operations
// of the three kinds to the kernel (in a private IPC namespace) and to a
// model namespace: creates of segments of odd sizes, pages touched,
// attaches, removals of attached segments (SHM_DEST, still counted) and
// their last detach; queues made and removed, messages sent and taken;
// sets of a few semaphores made and removed; a limit changed. After every
// step it wants the same IPC_INFO and *_INFO figures from both, and the
// same value returned by the commands (the highest index in use).
func TestInfoAsTheKernel(t *testing.T) {
	m, _ := newModel(t)
	ns := m.Get(nsmodel.DefaultNamespace)
	rng := rand.New(rand.NewPCG(15, 3))
	page := int(nsmodel.PageSize)
	type seg struct {
		kid   int
		addr  uintptr // the kernel's attach, 0 when none
		s     *nsmodel.Shm
		size  int
		dest  bool
		model bool // the model's attach is held
	}
	type pair struct {
		kid int
		mid int32
	}
	var segs []*seg
	var queues, sets []pair
	ctx := context.Background()
	inPrivateIPC(t, func() {
		defer func() {
			for _, s := range segs {
				if s.addr != 0 {
					unix.Syscall(unix.SYS_SHMDT, s.addr, 0, 0)
				}
				unix.SysvShmCtl(s.kid, unix.IPC_RMID, nil)
			}
		}()
		for step := 0; step < 400; step++ {
			var what string
			switch op := rng.IntN(12); {
			case op == 0 || op == 1 || len(segs) == 0:
				what = "shmget"
				size := 1 + rng.IntN(5*page)
				kid, err := unix.SysvShmGet(unix.IPC_PRIVATE, size, unix.IPC_CREAT|0o600)
				if err != nil {
					t.Errorf("step %d: kernel shmget: %v", step, err)
					return
				}
				s := create(t, ns.Shm, root(), nsmodel.IPCPrivate, uint64(size), 0o600)
				segs = append(segs, &seg{kid: kid, s: s, size: size})
			case op == 2:
				what = "touch"
				sg := segs[rng.IntN(len(segs))]
				if sg.dest {
					break
				}
				off := rng.IntN(sg.size)
				addr, err := unix.SysvShmAttach(sg.kid, 0, 0)
				if err != nil {
					t.Errorf("step %d: shmat: %v", step, err)
					return
				}
				addr[off] = 1
				unix.SysvShmDetach(addr)
				if _, err := unix.Pwrite(sg.s.Fd(), []byte{1}, int64(off)); err != nil {
					t.Errorf("step %d: pwrite: %v", step, err)
				}
			case op == 3:
				what = "attach, IPC_RMID"
				sg := segs[rng.IntN(len(segs))]
				if sg.dest {
					break
				}
				addr, _, e := unix.Syscall(unix.SYS_SHMAT, uintptr(sg.kid), 0, 0)
				if e != 0 {
					t.Errorf("step %d: shmat: %v", step, e)
					return
				}
				sg.addr = addr
				if err := ns.Shm.Attach(root(), sg.s, nsmodel.AccessRead|nsmodel.AccessWrite); err != nil {
					t.Errorf("step %d: model attach: %v", step, err)
				}
				sg.model = true
				unix.SysvShmCtl(sg.kid, unix.IPC_RMID, nil)
				if err := ns.Shm.Remove(root(), sg.s); err != nil {
					t.Errorf("step %d: model IPC_RMID: %v", step, err)
				}
				sg.dest = true
			case op == 4:
				what = "remove or last detach"
				i := rng.IntN(len(segs))
				sg := segs[i]
				if sg.dest {
					unix.Syscall(unix.SYS_SHMDT, sg.addr, 0, 0)
					ns.Shm.Detach(sg.s, 1)
				} else {
					unix.SysvShmCtl(sg.kid, unix.IPC_RMID, nil)
					if err := ns.Shm.Remove(root(), sg.s); err != nil {
						t.Errorf("step %d: model IPC_RMID: %v", step, err)
					}
				}
				segs = append(segs[:i], segs[i+1:]...)
			case op == 5 || len(queues) == 0:
				what = "msgget"
				kid, err := sysv(unix.SYS_MSGGET, 0, unix.IPC_CREAT|0o600, 0, 0)
				if err != nil {
					t.Errorf("step %d: msgget: %v", step, err)
					return
				}
				q, err := ns.Msg.Get(root(), nsmodel.MsgGet{Mode: 0o600, Create: true})
				if err != nil {
					t.Errorf("step %d: model msgget: %v", step, err)
					return
				}
				queues = append(queues, pair{kid, ns.Msg.Stat(q).ID})
			case op == 6 || op == 7:
				what = "msgsnd"
				p := queues[rng.IntN(len(queues))]
				buf := make([]byte, nsmodel.MsgHdrSize+rng.IntN(3000))
				nsmodel.PutMsgType(buf, 1+rng.Int64N(3))
				_, kerr := sysv(unix.SYS_MSGSND, uintptr(p.kid), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)-nsmodel.MsgHdrSize), unix.IPC_NOWAIT)
				q, _ := ns.Msg.Lookup(nsmodel.Ref{ByID: true, ID: p.mid})
				merr := q.Send(ctx, 1, append([]byte(nil), buf...), nsmodel.IPCNoWait)
				if errnoOf(kerr) != errnoOf(merr) {
					t.Errorf("step %d: msgsnd: kernel %v, model %v", step, errName(kerr), errName(merr))
				}
			case op == 8:
				what = "msgrcv"
				p := queues[rng.IntN(len(queues))]
				typ := rng.Int64N(4)
				buf := make([]byte, nsmodel.MsgHdrSize+4096)
				var kerr error
				if _, _, e := unix.Syscall6(unix.SYS_MSGRCV, uintptr(p.kid), uintptr(unsafe.Pointer(&buf[0])), 4096, uintptr(typ), unix.IPC_NOWAIT, 0); e != 0 {
					kerr = e
				}
				q, _ := ns.Msg.Lookup(nsmodel.Ref{ByID: true, ID: p.mid})
				_, merr := q.Receive(ctx, 1, nsmodel.MsgRecv{Type: typ, Flags: nsmodel.IPCNoWait, BufSize: 4096})
				if errnoOf(kerr) != errnoOf(merr) {
					t.Errorf("step %d: msgrcv type %d: kernel %v, model %v", step, typ, errName(kerr), errName(merr))
				}
			case op == 9:
				what = "msg IPC_RMID"
				i := rng.IntN(len(queues))
				p := queues[i]
				sysv(unix.SYS_MSGCTL, uintptr(p.kid), unix.IPC_RMID, 0, 0)
				q, _ := ns.Msg.Lookup(nsmodel.Ref{ByID: true, ID: p.mid})
				if err := ns.Msg.Remove(root(), q); err != nil {
					t.Errorf("step %d: model msg IPC_RMID: %v", step, err)
				}
				queues = append(queues[:i], queues[i+1:]...)
			case op == 10 || len(sets) == 0:
				what = "semget"
				n := 1 + rng.IntN(20)
				kid, err := sysv(unix.SYS_SEMGET, 0, uintptr(n), unix.IPC_CREAT|0o600, 0)
				if err != nil {
					t.Errorf("step %d: semget: %v", step, err)
					return
				}
				s, err := ns.Sem.Get(root(), nsmodel.SemGet{Nsems: n, Mode: 0o600, Create: true})
				if err != nil {
					t.Errorf("step %d: model semget: %v", step, err)
					return
				}
				sets = append(sets, pair{kid, ns.Sem.Stat(s).ID})
			default:
				what = "sem IPC_RMID"
				i := rng.IntN(len(sets))
				p := sets[i]
				sysv(unix.SYS_SEMCTL, uintptr(p.kid), 0, unix.IPC_RMID, 0)
				s, _ := ns.Sem.Lookup(nsmodel.Ref{ByID: true, ID: p.mid})
				if err := ns.Sem.Remove(root(), s); err != nil {
					t.Errorf("step %d: model sem IPC_RMID: %v", step, err)
				}
				sets = append(sets[:i], sets[i+1:]...)
			}
			if step == 200 {
				what += ", limits changed"
				for name, v := range map[string]string{"shmmni": "300", "msgmnb": "20000", "msgmax": "3000", "sem": "250 32000 32 128", "shmall": "100000"} {
					if err := setSysctl(name, v); err != nil {
						t.Errorf("kernel %s: %v", name, err)
					}
					setLimit(t, ns, name, v)
				}
			}
			if !sameInfo(t, ns, step, what) {
				return
			}
		}
	})
}

// sameInfo compares the three tables' figures in the kernel and in ns.
func sameInfo(t *testing.T, ns *nsmodel.Namespace, step int, what string) bool {
	t.Helper()
	ok := true
	ksh, err := kernelShmInfo()
	if err != nil {
		t.Errorf("step %d: %v", step, err)
		return false
	}
	if msh := ns.Shm.Info(); ksh != msh {
		t.Errorf("step %d (%s): shm figures differ:\nkernel %+v\nmodel  %+v", step, what, ksh, msh)
		ok = false
	}
	kmsg, err := kernelMsgInfo()
	if err != nil {
		t.Errorf("step %d: %v", step, err)
		return false
	}
	if mmsg := ns.Msg.Info(); kmsg != mmsg {
		t.Errorf("step %d (%s): msg figures differ:\nkernel %+v\nmodel  %+v", step, what, kmsg, mmsg)
		ok = false
	}
	ksem, err := kernelSemInfo()
	if err != nil {
		t.Errorf("step %d: %v", step, err)
		return false
	}
	if msem := ns.Sem.Info(); ksem != msem {
		t.Errorf("step %d (%s): sem figures differ:\nkernel %+v\nmodel  %+v", step, what, ksem, msem)
		ok = false
	}
	return ok
}

// TestInfoText pins the rendering of the three info files: every field
// once, in the structs' order, "name value".
func TestInfoText(t *testing.T) {
	m, _ := newModel(t)
	ns := m.Get(nsmodel.DefaultNamespace)
	create(t, ns.Shm, root(), 0x10, 5000, 0o600)
	want := map[string]string{
		"shm": "shmmax 18446744073692774399\nshmmin 1\nshmmni 4096\nshmseg 4096\nshmall 18446744073692774399\n" +
			"used_ids 1\nshm_tot 2\nshm_rss 0\nshm_swp 0\nswap_attempts 0\nswap_successes 0\nmax_idx 0\n",
		"msg": "msgpool 512000\nmsgmap 16384\nmsgmax 8192\nmsgmnb 16384\nmsgmni 32000\nmsgssz 16\nmsgtql 16384\nmsgseg 65535\n" +
			"msg_info.msgpool 0\nmsg_info.msgmap 0\nmsg_info.msgtql 0\nmax_idx 0\n",
		"sem": "semmap 1024000000\nsemmni 32000\nsemmns 1024000000\nsemmnu 1024000000\nsemmsl 32000\nsemopm 500\n" +
			"semume 500\nsemusz 20\nsemvmx 32767\nsemaem 32767\nsem_info.semusz 0\nsem_info.semaem 0\nmax_idx 0\n",
	}
	got := map[string]string{"shm": ns.Shm.Info().Text(), "msg": ns.Msg.Info().Text(), "sem": ns.Sem.Info().Text()}
	if nsmodel.PageSize != 4096 {
		want["shm"] = strings.Replace(want["shm"], "shm_tot 2", "shm_tot 1", 1)
	}
	for k := range want {
		if got[k] != want[k] {
			t.Errorf("%s/info:\n%s\nwant\n%s", k, got[k], want[k])
		}
	}
}
