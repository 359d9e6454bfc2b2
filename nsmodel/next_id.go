package nsmodel

import (
	"fmt"
	"math"

	"golang.org/x/sys/unix"
)

// The *_next_id sysctls (CONFIG_CHECKPOINT_RESTORE): a checkpoint/restore
// tool writes the id an object had, then creates it again and gets that
// very id.

// addAt is the next_id branch of ipc_idr_alloc: the object takes the
// sequence of id and the lowest free index at or above id's index, with
// idr_alloc(idr, new, idx, 0) (an end of 0 is no end). A taken index is
// not an error: the object gets the next free one, as the kernel gives
// it. The cyclic allocator is not touched: seq, last_idx and idr_next stay
// as they were. r.mu is held, r.nextID already spent.
//
// Where the kernel would go on past the last index (IPCMNI - 1 taken and
// every index above id's), giving an id that no lookup can find, the
// model refuses with ENOSPC.
func (r *Registry) addAt(o Object, id int32) error {
	idx := id & idxMask
	for int(idx) < len(r.slots) && r.slots[idx] != nil {
		idx++
	}
	if idx >= IPCMNI {
		return unix.ENOSPC
	}
	r.place(o, idx, id>>seqShift)
	return nil
}

// NextID is the value of *_next_id: -1, or the id that the next object
// made in the table gets.
func (r *Registry) NextID() int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.nextID
}

// setNextID stores a *_next_id write. It is spent (and reads -1 again)
// by the next object that reaches ipc_addid's allocation: a get that
// finds its key, or fails before the table is asked for an index (bad
// size, shmall, shmmni), leaves it in place.
func (r *Registry) setNextID(id int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nextID = id
}

// nextIDRegistry is the table that <kind>_next_id names.
func (ns *Namespace) nextIDRegistry(name string) *Registry {
	switch name {
	case "shm_next_id":
		return &ns.Shm.Registry
	case "msg_next_id":
		return &ns.Msg.Registry
	case "sem_next_id":
		return &ns.Sem.Registry
	}
	return nil
}

// parseNextID reads a write to *_next_id as proc_dointvec_minmax with
// the bounds of ipc_sysctl.c (SYSCTL_ZERO, SYSCTL_INT_MAX): -1 cannot be
// written back, and anything outside [0, INT_MAX] is EINVAL.
func parseNextID(text string) (int32, error) {
	var v int
	if err := sysctlVec(text, 1, intConv(&v, 0, math.MaxInt32)); err != nil {
		return 0, err
	}
	return int32(v), nil
}

func formatNextID(r *Registry) string { return fmt.Sprintf("%d\n", r.NextID()) }

// mayWriteNextID is ipc_permissions for the *_next_id files: they are
// mode 0444, made 0666 for a caller that checkpoint_restore_ns_capable
// finds capable (CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE). Root without
// those capabilities may not write them.
func mayWriteNextID(c *Cred) bool {
	return c.Capable(CapSysAdmin) || c.Capable(CapCheckpointRestore)
}
