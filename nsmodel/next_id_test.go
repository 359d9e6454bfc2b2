package nsmodel_test

import (
	"fmt"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/nsmodel"
)

// TestNextIDAsTheKernel applies one sequence of creates, removals,
// failed creates and <kind>_next_id writes to the kernel (in a private
// IPC namespace) and to a model namespace, for each kind, and wants the
// same errno and id from every create, the same next_id after every
// step, and the same objects found at the end. The sequence asks for a
// free index, a taken one (the kernel takes the next free index above
// it), one past the cyclic window, the highest id there is, a create
// that fails before an id is allocated and one that finds its key
// (neither spends next_id), and a create refused by the *mni limit (nor
// does that).
func TestNextIDAsTheKernel(t *testing.T) {
	for _, k := range ipcKinds {
		t.Run(k.name, func(t *testing.T) {
			m, _ := newModel(t)
			ns := m.Get(nsmodel.DefaultNamespace)
			type step struct {
				op   string // "get", "excl", "bad", "rm", "next", "mni"
				key  int32
				arg  int // the id to set, or the index in ids of the one to remove
				what string
			}
			steps := []step{
				{op: "get", what: "A"}, {op: "get", key: 0x100, what: "B"}, {op: "get", what: "C"},
				{op: "rm", arg: 1},
				{op: "next", arg: 1}, {op: "get", what: "a free index"},
				{op: "next", arg: 0}, {op: "get", key: 0x101, what: "a taken index"},
				{op: "get", what: "cyclic after next_id"},
				{op: "next", arg: 5<<15 | 100}, {op: "get", what: "seq 5 index 100"},
				{op: "get", what: "cyclic after a far one"},
				{op: "next", arg: 7},
				{op: "excl", key: 0x100 + 1, what: "IPC_EXCL on a taken key"},
				{op: "bad", what: "a create refused before the id"},
				{op: "get", key: 0x101, what: "a get that finds its key"},
				{op: "get", what: "next_id 7 at last"},
				{op: "next", arg: 0x7fffffff}, {op: "get", what: "the highest id"},
				{op: "rm", arg: 0}, {op: "rm", arg: 4},
				{op: "get", what: "cyclic"}, {op: "get", what: "cyclic"},
				{op: "mni"}, {op: "next", arg: 50}, {op: "get", what: "over the *mni limit"},
			}
			inPrivateIPC(t, func() {
				name := k.name + "_next_id"
				var kids, mids []int
				defer func() {
					for _, id := range kids {
						k.krm(id)
					}
				}()
				for i, st := range steps {
					if st.op == "bad" && k.name == "msg" {
						continue // msgget has no failure before the id but IPC_EXCL's
					}
					desc := fmt.Sprintf("step %d (%s %s)", i, st.op, st.what)
					switch st.op {
					case "next":
						v := fmt.Sprint(st.arg)
						kerr := setSysctl(name, v)
						merr := ns.SetLimit(root(), name, v)
						if errnoOf(kerr) != errnoOf(merr) {
							t.Errorf("%s: write %s: kernel %v, model %v", desc, v, errName(kerr), errName(merr))
						}
					case "rm":
						kerr := k.krm(kids[st.arg])
						merr := k.mrm(ns, int32(mids[st.arg]))
						if kerr != nil || merr != nil {
							t.Errorf("%s: IPC_RMID: kernel %v, model %v", desc, kerr, merr)
						}
					case "mni":
						live := 0
						for _, id := range kids {
							if k.kfound(id) {
								live++
							}
						}
						v := fmt.Sprint(live)
						lim := map[string]string{"shm": "shmmni", "msg": "msgmni"}[k.name]
						if k.name == "sem" {
							v = "32000 1024000000 500 " + v
							lim = "sem"
						}
						if err := setSysctl(lim, v); err != nil {
							t.Errorf("%s: kernel %s %s: %v", desc, lim, v, err)
						}
						setLimit(t, ns, lim, v)
					default:
						kid, kerr := k.kget(st.key, st.op == "excl", st.op == "bad")
						mid, merr := k.mget(ns, st.key, st.op == "excl", st.op == "bad")
						if errnoOf(kerr) != errnoOf(merr) || kid != int(mid) {
							t.Errorf("%s: kernel id %d (%v), model id %d (%v)", desc, kid, errName(kerr), mid, errName(merr))
						}
						if kerr == nil && st.key == 0 || kerr == nil && !contains(kids, kid) {
							kids = append(kids, kid)
							mids = append(mids, int(mid))
						}
					}
					kv, mv := sysctl(name), limitText(ns, name)
					if kv != mv {
						t.Errorf("%s: %s reads %q in the kernel, %q in the model", desc, name, kv, mv)
					}
				}
				for i, id := range kids {
					if kf, mf := k.kfound(id), k.mfound(ns, int32(mids[i])); kf != mf {
						t.Errorf("id %d: found in the kernel %v, in the model %v", id, kf, mf)
					}
				}
			})
		})
	}
}

func contains(ids []int, id int) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// limitText is limits/<name> of ns, or the error.
func limitText(ns *nsmodel.Namespace, name string) string {
	s, err := ns.FormatLimit(name)
	if err != nil {
		return "error: " + err.Error()
	}
	return s
}

// TestControlWritesAsTheKernel writes each of limitWrites to each of
// ControlNames, in a fresh IPC namespace for each, and wants the model
// to give the kernel's errno and then read back what the kernel does.
func TestControlWritesAsTheKernel(t *testing.T) {
	for _, name := range nsmodel.ControlNames {
		for _, text := range limitWrites {
			var kerr error
			var kval string
			inPrivateIPC(t, func() {
				kerr = setSysctl(name, text)
				kval = sysctl(name)
			})
			m, _ := newModel(t)
			ns := m.Get(nsmodel.DefaultNamespace)
			merr := ns.SetLimit(root(), name, text)
			if errnoOf(kerr) != errnoOf(merr) {
				t.Errorf("%s <- %q: kernel %v, model %v", name, text, errName(kerr), errName(merr))
			}
			if mval := limitText(ns, name); mval != kval {
				t.Errorf("%s <- %q: kernel reads %q, model %q", name, text, kval, mval)
			}
		}
	}
}

// TestControlPermissionsAsTheKernel opens each control for writing and
// writes to it as callers with and without root and the capabilities
// that ipc_permissions asks of the *_next_id files, and wants the
// kernel's errno from the model at the open and at the write.
func TestControlPermissionsAsTheKernel(t *testing.T) {
	type who struct {
		name string
		uid  uint32
		caps uint64 // effective capabilities
	}
	all := ^uint64(0)
	whos := []who{
		{"root", 0, all},
		{"root without CAP_SYS_ADMIN and CAP_CHECKPOINT_RESTORE", 0, all &^ capBit(nsmodel.CapSysAdmin) &^ capBit(nsmodel.CapCheckpointRestore)},
		{"uid 1000", 1000, 0},
		{"uid 1000 with CAP_CHECKPOINT_RESTORE", 1000, capBit(nsmodel.CapCheckpointRestore)},
		{"uid 1000 with CAP_SYS_ADMIN", 1000, capBit(nsmodel.CapSysAdmin)},
	}
	names := append([]string{"shmmni"}, nsmodel.ControlNames...)
	for _, w := range whos {
		var kopen, kwrite = map[string]error{}, map[string]error{}
		inPrivateIPC(t, func() {
			if err := becomeWithCaps(w.uid, w.caps); err != nil {
				t.Errorf("%s: %v", w.name, err)
				return
			}
			defer restoreRoot()
			for _, name := range names {
				fd, err := unix.Open("/proc/sys/kernel/"+name, unix.O_WRONLY, 0)
				kopen[name] = err
				if err == nil {
					_, kwrite[name] = unix.Write(fd, []byte("1"))
					unix.Close(fd)
				}
			}
		})
		m, _ := newModel(t)
		ns := m.Get(nsmodel.DefaultNamespace)
		c := nsmodel.NewFixedCred(w.uid, w.uid, 1, nil, w.caps)
		for _, name := range names {
			var mopen error
			if !ns.MayWriteLimit(c, name) {
				mopen = unix.EACCES
			}
			if errnoOf(kopen[name]) != errnoOf(mopen) {
				t.Errorf("%s opens %s for writing: kernel %v, model %v", w.name, name, errName(kopen[name]), errName(mopen))
				continue
			}
			if kopen[name] != nil {
				continue
			}
			if merr := ns.SetLimit(c, name, "1"); errnoOf(kwrite[name]) != errnoOf(merr) {
				t.Errorf("%s writes %s: kernel %v, model %v", w.name, name, errName(kwrite[name]), errName(merr))
			}
		}
	}
}

// becomeWithCaps makes the calling thread uid (and gid) uid with exactly
// the effective capabilities caps, keeping the saved uid 0 and the
// permitted set so that restoreRoot can go back.
func becomeWithCaps(uid uint32, caps uint64) error {
	if uid != 0 {
		if err := become(identity{uid: uid, gid: uid}); err != nil {
			return err
		}
	}
	return setEffectiveCaps(caps)
}

func setEffectiveCaps(caps uint64) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return err
	}
	data[0].Effective = uint32(caps) & data[0].Permitted
	data[1].Effective = uint32(caps>>32) & data[1].Permitted
	return unix.Capset(&hdr, &data[0])
}

// restoreRoot makes the thread root with every permitted capability.
func restoreRoot() {
	if err := unbecome(); err != nil {
		panic("cannot go back to root: " + err.Error())
	}
	if err := setEffectiveCaps(^uint64(0)); err != nil {
		panic("cannot take the capabilities back: " + err.Error())
	}
}
