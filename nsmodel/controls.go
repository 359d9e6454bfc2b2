package nsmodel

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// CapCheckpointRestore is CAP_CHECKPOINT_RESTORE (linux/capability.h).
const CapCheckpointRestore = 40

// ControlNames are the ipc sysctls of /proc/sys/kernel that are not
// limits: they hold no quota, live in the id tables rather than in
// Limits, and are listed in limits/ beside LimitNames.
//
//   - shm_rmid_forced: 0 or 1 (rmid_forced.go);
//   - shm_next_id, msg_next_id, sem_next_id: the id of the next object
//     of the kind, or -1 (next_id.go);
//   - auto_msgmni: always reads 0; a write of 0 or 1 is taken and does
//     nothing, anything else is EINVAL (proc_ipc_auto_msgmni).
var ControlNames = []string{"auto_msgmni", "msg_next_id", "sem_next_id", "shm_next_id", "shm_rmid_forced"}

// isControl reports whether name is one of ControlNames.
func isControl(name string) bool {
	for _, n := range ControlNames {
		if n == name {
			return true
		}
	}
	return false
}

// FormatLimit renders limits/<name>, one of LimitNames or ControlNames,
// as /proc/sys/kernel/<name> does. As in the kernel, a read of
// shm_rmid_forced while it is 1 destroys the segments left orphaned
// (proc_ipc_dointvec_minmax_orphans runs shm_destroy_orphaned on reads
// too).
func (ns *Namespace) FormatLimit(name string) (string, error) {
	switch name {
	case "auto_msgmni":
		return "0\n", nil
	case "shm_rmid_forced":
		on := ns.Shm.RmidForced()
		if on {
			ns.Shm.destroyOrphaned()
		}
		return fmt.Sprintf("%d\n", b2i(on)), nil
	}
	if r := ns.nextIDRegistry(name); r != nil {
		return formatNextID(r), nil
	}
	l := ns.Limits()
	return l.Format(name)
}

// LimitMode is the permission bits that /proc/sys/kernel/<name> shows:
// the *_next_id files are 0444 (ipc_permissions opens them to the
// capable at open time), the rest 0644.
func LimitMode(name string) uint32 {
	if len(name) > len("_next_id") && name[len(name)-len("_next_id"):] == "_next_id" {
		return 0o444
	}
	return 0o644
}

// MayWriteLimit is whether c may open limits/<name> for writing:
// MayWriteLimits for the limits; for the controls, which are no quota,
// what the kernel asks: euid 0 for shm_rmid_forced and auto_msgmni, a
// capability for the *_next_id files.
func (ns *Namespace) MayWriteLimit(c *Cred, name string) bool {
	switch {
	case ns.nextIDRegistry(name) != nil:
		return mayWriteNextID(c)
	case isControl(name):
		return MayWriteLimits(c)
	}
	return ns.MayWriteLimits(c)
}

// setControl is SetLimit for one of ControlNames: the permission of
// MayWriteLimit (EACCES), then the write read as proc_dointvec_minmax
// reads it. An empty write changes nothing; a bad one is EINVAL.
func (ns *Namespace) setControl(c *Cred, name, text string) error {
	if !ns.MayWriteLimit(c, name) {
		return unix.EACCES
	}
	if text == "" {
		return nil
	}
	if r := ns.nextIDRegistry(name); r != nil {
		id, err := parseNextID(text)
		if err != nil {
			return err
		}
		r.setNextID(id)
		return nil
	}
	var v int
	if err := sysctlVec(text, 1, intConv(&v, 0, 1)); err != nil {
		return err
	}
	if name == "shm_rmid_forced" {
		ns.Shm.SetRmidForced(v == 1)
	}
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
