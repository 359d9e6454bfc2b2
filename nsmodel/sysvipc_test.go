package nsmodel_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/nsmodel"
)

const shmNoReserve = 0o10000 // SHM_NORESERVE

// kernelRows reads /proc/sysvipc/<kind> of the calling thread's IPC
// namespace: its header, and its rows by id.
func kernelRows(t *testing.T, kind string) (string, map[string]string) {
	b, err := os.ReadFile("/proc/sysvipc/" + kind)
	if err != nil {
		t.Errorf("%v", err)
		return "", nil
	}
	lines := strings.SplitAfter(string(b), "\n")
	rows := make(map[string]string)
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > 1 {
			rows[f[1]] = l
		}
	}
	return lines[0], rows
}

// statOfRow reads a /proc/sysvipc/shm row back into a ShmStat.
func statOfRow(t *testing.T, row string) nsmodel.ShmStat {
	f := strings.Fields(row)
	n := func(i int) uint64 {
		v, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			t.Errorf("field %d of %q: %v", i, row, err)
		}
		return v
	}
	key, _ := strconv.ParseInt(f[0], 10, 32)
	mode, _ := strconv.ParseUint(f[2], 8, 32)
	return nsmodel.ShmStat{
		ObjectStat: nsmodel.ObjectStat{Perm: nsmodel.Perm{Key: int32(key), ID: int32(n(1)), Mode: uint32(mode),
			UID: uint32(n(7)), GID: uint32(n(8)), CUID: uint32(n(9)), CGID: uint32(n(10))}},
		Size: n(3), CPID: int32(n(4)), LPID: int32(n(5)), Nattch: n(6),
		Atime: int64(n(11)), Dtime: int64(n(12)), Ctime: int64(n(13)), Resident: int64(n(14)),
	}
}

// TestSysvipcShmAsTheKernel makes the same segments in the kernel (in a
// private IPC namespace) and in the model, takes them through attach,
// IPC_RMID with an attach, IPC_SET and SHM_LOCK, and compares
// /proc/sysvipc/shm with the model's rendering: the header byte for
// byte, each kernel row byte for byte with the model's rendering of the
// same values, and every column but the times with the model's own row.
func TestSysvipcShmAsTheKernel(t *testing.T) {
	tab, _, _ := shmTable(t)
	me := identity{name: "root", uid: 0, gid: 0}.cred()
	pg := int(page)
	segs := []struct {
		key  int32
		size int
		flag int
	}{
		{0x0000162e, 5000, 0o640},
		{-0x7fffffff, 1 << 40, 0o600 | shmNoReserve},
		{0, 3 * pg, 0o666},
		{0x7fffffff, 1, 0o000},
	}
	inPrivateIPC(t, func() {
		var kids []int
		var ms []*nsmodel.Shm
		var maps [][]byte
		defer func() {
			for _, m := range maps {
				unix.SysvShmDetach(m)
			}
			for _, id := range kids {
				unix.SysvShmCtl(id, unix.IPC_RMID, nil)
			}
		}()
		for _, sg := range segs {
			kid, err := unix.SysvShmGet(int(sg.key), sg.size, sg.flag|unix.IPC_CREAT)
			if err != nil {
				t.Errorf("kernel shmget %#x: %v", sg.key, err)
				return
			}
			s, err := tab.Get(me, nsmodel.ShmGet{Key: sg.key, Size: uint64(sg.size), Mode: uint32(sg.flag) & 0o777, Create: true})
			if err != nil {
				t.Errorf("model shmget %#x: %v", sg.key, err)
				return
			}
			kids, ms = append(kids, kid), append(ms, s)
		}
		// Attach the first and third, and touch two pages of the first
		// and all of the third.
		for _, i := range []int{0, 2} {
			mem, err := unix.SysvShmAttach(kids[i], 0, 0)
			if err != nil {
				t.Errorf("shmat: %v", err)
				return
			}
			maps = append(maps, mem)
			if err := tab.Attach(me, ms[i], nsmodel.AccessRead|nsmodel.AccessWrite); err != nil {
				t.Errorf("model attach: %v", err)
			}
			touch := []int{0, pg}
			if i == 2 {
				touch = []int{0, pg, 2 * pg}
			}
			for _, off := range touch {
				mem[off] = 1
				unix.Pwrite(ms[i].Fd(), []byte{1}, int64(off))
			}
		}
		// The first is removed while attached; the third is locked (all
		// its pages are resident already, as the model's lock makes
		// them) and given away.
		unix.SysvShmCtl(kids[0], unix.IPC_RMID, nil)
		tab.Remove(me, ms[0])
		unix.SysvShmCtl(kids[2], shmLock, nil)
		tab.Lock(me, ms[2], true)
		uid, gid, mode := uint32(65534), uint32(65533), uint32(0o604)
		unix.SysvShmCtl(kids[2], unix.IPC_SET, &unix.SysvShmDesc{Perm: unix.SysvIpcPerm{Uid: uid, Gid: gid, Mode: mode}})
		tab.Set(me, ms[2], nsmodel.SetAttr{UID: &uid, GID: &gid, Mode: &mode})

		header, rows := kernelRows(t, "shm")
		if header != nsmodel.ShmHeader {
			t.Errorf("shm header:\nkernel %q\nmodel  %q", header, nsmodel.ShmHeader)
		}
		ours := tab.SysvipcShm()
		if !strings.HasPrefix(ours, nsmodel.ShmHeader) {
			t.Errorf("model's sysvipc/shm starts %q", ours)
		}
		if len(rows) != len(segs) || strings.Count(ours, "\n") != len(segs)+1 {
			t.Errorf("kernel lists %d segments, model %d lines", len(rows), strings.Count(ours, "\n"))
		}
		for i, s := range ms {
			krow := rows[strconv.Itoa(kids[i])]
			kst := statOfRow(t, krow)
			if got := nsmodel.ShmRow(&kst); got != krow {
				t.Errorf("layout:\nkernel %q\nmodel  %q", krow, got)
			}
			mst := tab.Stat(s)
			mst.Atime, mst.Dtime, mst.Ctime = kst.Atime, kst.Dtime, kst.Ctime
			if got := nsmodel.ShmRow(&mst); got != krow {
				t.Errorf("segment %d:\nkernel %q\nmodel  %q", i, krow, got)
			}
		}

		for kind, want := range map[string]string{"msg": nsmodel.MsgHeader, "sem": nsmodel.SemHeader} {
			if header, _ := kernelRows(t, kind); header != want {
				t.Errorf("%s header:\nkernel %q\nmodel  %q", kind, header, want)
			}
		}
	})
}
