package nsmodel_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/nsmodel"
)

func TestFirstIDIsZeroAndIndexesCount(t *testing.T) {
	tab, _, _ := shmTable(t)
	for want := int32(0); want < 3; want++ {
		s := create(t, tab, owner(), 0x100+want, 1, 0o600)
		if nsmodel.IDOf(s) != want {
			t.Errorf("segment %d: id %d", want, nsmodel.IDOf(s))
		}
	}
}

func TestRecreatedKeyGetsNewID(t *testing.T) {
	tab, _, _ := shmTable(t)
	a := create(t, tab, owner(), 0x1234, 1, 0o600)
	if err := tab.Remove(owner(), a); err != nil {
		t.Fatal(err)
	}
	b := create(t, tab, owner(), 0x1234, 1, 0o600)
	if nsmodel.IDOf(a) == nsmodel.IDOf(b) {
		t.Errorf("recreated key 0x1234 got the old id %d", nsmodel.IDOf(a))
	}
	if nsmodel.IDOf(b) != 1 {
		t.Errorf("recreated key: id %d, want 1 (the cyclic index moves on)", nsmodel.IDOf(b))
	}
}

// TestSequenceAdvancesOnWrap: with nothing in use the index cycles below
// 64; the 65th object takes index 0 again with sequence 1.
func TestSequenceAdvancesOnWrap(t *testing.T) {
	tab, _, _ := shmTable(t)
	var ids []int32
	for i := 0; i < 66; i++ {
		s := create(t, tab, owner(), nsmodel.IPCPrivate, 1, 0o600)
		ids = append(ids, nsmodel.IDOf(s))
		if err := tab.Remove(owner(), s); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 64; i++ {
		if ids[i] != int32(i) {
			t.Fatalf("id %d of a cycle: %d", i, ids[i])
		}
	}
	if ids[64] != 1<<15 || ids[65] != 1<<15+1 {
		t.Errorf("after the wrap: ids %d, %d; want %d, %d", ids[64], ids[65], 1<<15, 1<<15+1)
	}
}

// TestCycleGrowsWithUse: with 100 objects in use the index cycles below
// 150, not 64, and wraps to the lowest free index with the next sequence.
func TestCycleGrowsWithUse(t *testing.T) {
	tab, _, _ := shmTable(t)
	for i := 0; i < 100; i++ {
		create(t, tab, owner(), nsmodel.IPCPrivate, 1, 0o600)
	}
	for i := int32(0); i < 51; i++ {
		s := create(t, tab, owner(), nsmodel.IPCPrivate, 1, 0o600)
		want := 100 + i
		if i == 50 {
			want = 1<<15 + 100
		}
		if nsmodel.IDOf(s) != want {
			t.Fatalf("create %d with 100 in use: id %d, want %d", i, nsmodel.IDOf(s), want)
		}
		if err := tab.Remove(owner(), s); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLookupByID(t *testing.T) {
	tab, _, _ := shmTable(t)
	var old *nsmodel.Shm
	for i := 0; i < 64; i++ { // go once round the cycle, so index 0 comes back
		s := create(t, tab, owner(), nsmodel.IPCPrivate, 1, 0o600)
		if i == 0 {
			old = s
			continue
		}
		tab.Remove(owner(), s)
	}
	oldID := nsmodel.IDOf(old)
	tab.Remove(owner(), old)
	cur := create(t, tab, owner(), nsmodel.IPCPrivate, 1, 0o600)
	if nsmodel.IDOf(cur)&0x7fff != oldID&0x7fff || nsmodel.IDOf(cur) == oldID {
		t.Fatalf("want index %d with a new sequence, got id %d", oldID, nsmodel.IDOf(cur))
	}

	got, err := tab.Lookup(nsmodel.Ref{ByID: true, ID: nsmodel.IDOf(cur)})
	if err != nil || got != cur {
		t.Errorf("lookup of id %d: %v, %v", nsmodel.IDOf(cur), got, err)
	}
	for _, id := range []int32{oldID, -1, 5, nsmodel.IDOf(cur) + 1<<15, 0x7fffffff} {
		_, err := tab.Lookup(nsmodel.Ref{ByID: true, ID: id})
		wantErr(t, fmt.Sprintf("lookup of stale or unused id %d", id), err, unix.EINVAL)
	}
	_, err = tab.Lookup(nsmodel.Ref{Key: 0x999})
	wantErr(t, "lookup of an unknown key", err, unix.ENOENT)
}

// TestIDsAsTheKernel runs one pseudo-random sequence of creates and
// removes against the kernel (in a private IPC namespace) and against the
// model, and wants the same id from both at every step.
func TestIDsAsTheKernel(t *testing.T) {
	tab, _, _ := shmTable(t)
	rng := rand.New(rand.NewPCG(2, 15))
	type pair struct{ kid, mid int32 }
	var live []pair
	var mismatches int
	inPrivateIPC(t, func() {
		defer func() {
			for _, p := range live {
				unix.SysvShmCtl(int(p.kid), unix.IPC_RMID, nil)
			}
		}()
		for step := 0; step < 3000 && mismatches < 5; step++ {
			// Grow to a few hundred, then shrink, so the cycle length
			// max(in_use*3/2, 64) moves both ways.
			target := 250
			if step/600%2 == 1 {
				target = 10
			}
			if len(live) == 0 || (len(live) < target && rng.IntN(3) > 0) || (len(live) >= target && rng.IntN(4) == 0) {
				key := int32(0)
				if rng.IntN(2) == 0 {
					key = int32(0x10000 + step)
				}
				kid, err := unix.SysvShmGet(int(key), 4096, unix.IPC_CREAT|0o600)
				if err != nil {
					t.Errorf("step %d: kernel shmget: %v", step, err)
					return
				}
				s, err := tab.Get(root(), nsmodel.ShmGet{Key: key, Size: 4096, Mode: 0o600, Create: true})
				if err != nil {
					t.Errorf("step %d: model shmget: %v", step, err)
					return
				}
				if int32(kid) != nsmodel.IDOf(s) {
					t.Errorf("step %d (%d in use): kernel id %d, model id %d", step, len(live), kid, nsmodel.IDOf(s))
					mismatches++
				}
				live = append(live, pair{int32(kid), nsmodel.IDOf(s)})
				continue
			}
			i := rng.IntN(len(live))
			p := live[i]
			live = append(live[:i], live[i+1:]...)
			if _, err := unix.SysvShmCtl(int(p.kid), unix.IPC_RMID, nil); err != nil {
				t.Errorf("step %d: kernel IPC_RMID %d: %v", step, p.kid, err)
			}
			s, err := tab.Lookup(nsmodel.Ref{ByID: true, ID: p.mid})
			if err == nil {
				err = tab.Remove(root(), s)
			}
			if err != nil {
				t.Errorf("step %d: model IPC_RMID %d: %v", step, p.mid, err)
			}
		}
	})
}
