package fs

import (
	"hash/fnv"
	"strconv"
	"sync/atomic"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
)

// The identity of every node of a mount: its inode number (st_ino) and
// generation, formed here and nowhere else.
//
// go-fuse hands the kernel an existing node for a lookup whose (file
// type, ino, generation) it already holds, so two things that share all
// three are one file to the kernel: a queue once shared a set's inode
// that way, and a write to the queue ran a semop. The layout below keeps
// every number apart.
//
//	1                           the root, MOUNT/
//	2                           MOUNT/self
//	serial<<slotBits            the namespace or object of model serial
//	                            `serial` (nsmodel serials are unique across
//	                            namespaces and the three kinds, for the
//	                            life of the process, and never reused)
//	serial<<slotBits | slot     fixed entry `slot` (1..255) of namespace
//	                            `serial`: ctl, the tables, their ctl files,
//	                            sysvipc/ and limits/ and their files
//	optionBit | hash            a name with options of object `serial`
//	                            (msg/<key>,msgtyp=..., ...): a hash of the
//	                            serial and the canonical options, in the
//	                            62 bits below optionBit
//	1<<61 | ...                 below MOUNT/kernel/: the kernel's own
//	                            namespaces (kernelTree.ino), laid out below
//	1<<63 and up                go-fuse's automatic numbers, never used
//
// Serials stay below 2^54 (slotBits 8), which a process does not reach.
//
// Generations: a node the kernel may share between lookups (namespaces,
// fixed entries, segments) has generation 0, so that every lookup finds
// the one node the kernel holds. A node made afresh for each lookup
// (queue and set files, whose blocked writers hold their inode's lock)
// takes the next number of the one counter, gen.
const (
	rootIno   = 1
	selfIno   = 2
	slotBits  = 8
	optionBit = 1 << 62
)

// Fixed entries of a namespace, by slot. limits/<name> is slotLimit+i,
// i its index in nsmodel.LimitNames.
const (
	slotNSCtl = 1 + iota
	slotShmDir
	slotShmCtl
	slotMsgDir
	slotMsgCtl
	slotSemDir
	slotSemCtl
	slotSysvipc
	slotSysvipcShm
	slotSysvipcMsg
	slotSysvipcSem
	slotShmInfo
	slotMsgInfo
	slotSemInfo
	slotLimits
	slotLimit // first of limits/<name>
)

// gen is the one generation counter of the process.
var gen atomic.Uint64

// serialIno is the inode number of the namespace or object of a serial.
func serialIno(serial uint64) uint64 { return serial << slotBits }

// fixedIno is the inode number of fixed entry slot of namespace serial.
func fixedIno(nsSerial uint64, slot int) uint64 { return nsSerial<<slotBits | uint64(slot) }

// optionIno is the inode number of a name with options (canonical spec,
// never "") of object serial.
func optionIno(serial uint64, spec string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(strconv.FormatUint(serial, 10) + ":" + spec))
	return h.Sum64()&(optionBit-1) | optionBit
}

// sharedAttr is the identity of a node that every lookup shares.
func sharedAttr(mode, ino uint64) gofs.StableAttr {
	return gofs.StableAttr{Mode: uint32(mode) & syscall.S_IFMT, Ino: ino}
}

// freshAttr is the identity of a node made for one lookup: a new
// generation.
func freshAttr(mode, ino uint64) gofs.StableAttr {
	return gofs.StableAttr{Mode: uint32(mode) & syscall.S_IFMT, Ino: ino, Gen: gen.Add(1)}
}

// Inode numbers below kernel/ have bit 61 set, which no model number
// (serials shifted by slotBits stay below 2^61 while serials stay below
// 2^53; names with options have bit 62; go-fuse's own start at 2^63)
// has. Below it: a per-mount index of the namespace (24 bits, from 1;
// 0 for kernel/ itself and self), the node's kind (4 bits) and a number
// within the kind (32 bits: an IPC id, or which fixed file). Queue names
// with options take bit 60 and a hash (kernelQueueIno).
const (
	kinoBase = 1 << 61

	kinoTop     = 0 // n: 0 kernel/, 1 self
	kinoNSDir   = 1 // n: 0 the namespace, 1 sysvipc/, 2 limits/, 3+kind a table
	kinoCtl     = 2 // n: kind
	kinoSysvipc = 3 // n: kind
	kinoLimit   = 4 // n: index in LimitNames, then ControlNames
	kinoObject  = 5 // 5, 6, 7: kinoObject+kind (shm, msg, sem); n: the id
	kinoInfo    = 8 // n: kind (past the three object kinds)
)
