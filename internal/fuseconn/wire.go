package fuseconn

import (
	"encoding/binary"
	"unsafe"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// Opcodes and notification codes of include/uapi/linux/fuse.h that the
// connection looks at itself; everything else goes to go-fuse as it is.
const (
	opForget      = 2
	opRelease     = 18
	opInit        = 26
	opInterrupt   = 36
	opPoll        = 40
	opBatchForget = 42
	opLseek       = 46

	notifyPoll = 1 // FUSE_NOTIFY_POLL

	// pollScheduleNotify is FUSE_POLL_SCHEDULE_NOTIFY: someone waits on
	// the file, and wants a NOTIFY_POLL when it may have become ready.
	pollScheduleNotify = 1

	inHeaderSize  = 40 // struct fuse_in_header
	outHeaderSize = 16 // struct fuse_out_header
)

// DefaultPollMask is what the kernel reports for a file whose server
// cannot poll (DEFAULT_POLLMASK): always readable and writable.
const DefaultPollMask = 0x1 | 0x4 | 0x40 | 0x100 // POLLIN|POLLOUT|POLLRDNORM|POLLWRNORM

var ne = binary.NativeEndian

// inHeader is the fields of struct fuse_in_header the connection reads.
type inHeader struct {
	len    uint32
	opcode uint32
	unique uint64
	nodeid uint64
}

func parseHeader(b []byte) (inHeader, bool) {
	if len(b) < inHeaderSize {
		return inHeader{}, false
	}
	return inHeader{len: ne.Uint32(b), opcode: ne.Uint32(b[4:]), unique: ne.Uint64(b[8:]), nodeid: ne.Uint64(b[16:])}, true
}

// putOutHeader writes struct fuse_out_header.
func putOutHeader(b []byte, length uint32, errno int32, unique uint64) {
	ne.PutUint32(b, length)
	ne.PutUint32(b[4:], uint32(errno))
	ne.PutUint64(b[8:], unique)
}

// structBytes is the memory of *p, for handing a go-fuse struct to the
// protocol server as if the kernel had sent it.
func structBytes[T any](p *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), unsafe.Sizeof(*p))
}

// initRequest is the INIT that go-fuse's Server answered, as the kernel
// sent it, so that the protocol server negotiates the same flags.
func initRequest(k *fuse.InitIn) []byte {
	in := *k
	in.InHeader = fuse.InHeader{Length: uint32(unsafe.Sizeof(in)), Opcode: opInit, Unique: 1}
	return append([]byte(nil), structBytes(&in)...)
}

// interruptRequest is a FUSE_INTERRUPT of unique, as the kernel sends it.
func interruptRequest(unique uint64) []byte {
	b := make([]byte, inHeaderSize+8)
	ne.PutUint32(b, uint32(len(b)))
	ne.PutUint32(b[4:], opInterrupt)
	ne.PutUint64(b[8:], unique|1<<63)
	ne.PutUint64(b[inHeaderSize:], unique)
	return b
}
