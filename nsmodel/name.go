package nsmodel

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// privatePrefix names objects whose key is IPC_PRIVATE: they have no key
// to be named by, so their id names them.
const privatePrefix = "private."

// EntryName is the file name of an object in its table: the key as 0x and
// eight lowercase hex digits, or private.<id>.
func EntryName(p *Perm) string {
	if p.Key == IPCPrivate {
		return privatePrefix + strconv.Itoa(int(p.ID))
	}
	return fmt.Sprintf("0x%08x", uint32(p.Key))
}

// Ref names an object in a table: by key, or by id.
type Ref struct {
	ByID bool
	Key  int32
	ID   int32
}

// ParseEntryName is the inverse of EntryName; anything else is EINVAL.
func ParseEntryName(name string) (Ref, error) {
	if rest, ok := strings.CutPrefix(name, privatePrefix); ok {
		id, err := strconv.ParseInt(rest, 10, 32)
		if err != nil || id < 0 || strconv.Itoa(int(id)) != rest {
			return Ref{}, unix.EINVAL
		}
		return Ref{ByID: true, ID: int32(id)}, nil
	}
	key, err := ParseKey(name)
	if err != nil || key == IPCPrivate || EntryName(&Perm{Key: key}) != name {
		return Ref{}, unix.EINVAL
	}
	return Ref{Key: key}, nil
}

// ParseKey reads a key as a program would write it: 0x-prefixed hex, or
// decimal (signed, as key_t is), or IPC_PRIVATE.
func ParseKey(s string) (int32, error) {
	if s == "IPC_PRIVATE" {
		return IPCPrivate, nil
	}
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		v, err := strconv.ParseUint(h, 16, 32)
		if err != nil || h == "" {
			return 0, unix.EINVAL
		}
		return int32(uint32(v)), nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < -1<<31 || v > 1<<32-1 {
		return 0, unix.EINVAL
	}
	return int32(uint32(v)), nil
}

// ParseRef reads an object reference of a ctl command: a key, or id=N.
func ParseRef(s string) (Ref, error) {
	if rest, ok := strings.CutPrefix(s, "id="); ok {
		id, err := strconv.ParseInt(rest, 10, 32)
		if err != nil || id < 0 {
			return Ref{}, unix.EINVAL
		}
		return Ref{ByID: true, ID: int32(id)}, nil
	}
	if strings.HasPrefix(s, privatePrefix) {
		return ParseEntryName(s)
	}
	key, err := ParseKey(s)
	if err != nil || key == IPCPrivate {
		return Ref{}, unix.EINVAL
	}
	return Ref{Key: key}, nil
}

// find resolves a reference: an unknown key is ENOENT (as shmget without
// IPC_CREAT), an unknown id EINVAL (as shmctl). r.mu is held.
func (r *Registry) find(ref Ref) (Object, error) {
	if ref.ByID {
		return r.findID(ref.ID)
	}
	if o := r.findKey(ref.Key); o != nil {
		return o, nil
	}
	return nil, unix.ENOENT
}
