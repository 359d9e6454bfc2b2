package fs

import (
	"strconv"
	"strings"
	"syscall"

	"github.com/shmfs/shmfs/nsmodel"
)

// msgView is how the handles of one name of a queue read and write it:
// the msgtyp and flags that each read passes to msgrcv, and the framing.
// The options follow the queue's name, separated by commas:
//
//	msg/0x0000162e,msgtyp=-5,MSG_NOERROR
//
//	msgtyp=N     msgrcv's msgtyp (default 0); the first index for MSG_COPY
//	MSG_EXCEPT   MSG_NOERROR   MSG_COPY   IPC_NOWAIT    the msgrcv flags
//	mtext        reads give, and writes take, the mtext alone
//	mtype=N      the type an mtext write is sent with (default 1); implies mtext
//	recv         nothing but itself: msgrcv with msgtyp 0, in msgbuf framing
//
// A name without options is the queue as a listing shows it, for
// browsing: its writes are msgsnd in struct msgbuf framing, but its reads
// never take a message and never block. They copy the messages in order
// (MSG_COPY with IPC_NOWAIT: one message per read(2), the end of the file
// after the last), so that ls -lR, grep -r, tar, cp -r, find -exec cat or
// file over a namespace leave every queue as it was (docs/msg.md).
// Receiving is asked for by a name with options: msg/<key>,recv, or any
// of the others but MSG_COPY. Names are parsed strictly: an unknown or
// repeated option, or a number that does not parse, is EINVAL.
type msgView struct {
	typ   int64 // msgtyp
	flags int   // nsmodel.MsgExcept, MsgNoError, MsgCopy, IPCNoWait
	mtext bool
	mtype int64
	// spec is the options in a canonical form, "" for none.
	spec string
	// peek: the name has no options, and its reads copy (browsing).
	peek bool
}

// readFlags are the msgrcv flags of a read through the view.
func (v msgView) readFlags() int {
	if v.peek {
		return nsmodel.MsgCopy | nsmodel.IPCNoWait
	}
	return v.flags
}

// parseMsgName splits a name into the entry name and its view.
func parseMsgName(name string) (string, msgView, error) {
	v := msgView{mtype: 1}
	entry, opts, ok := strings.Cut(name, ",")
	if !ok {
		v.peek = true
		return entry, v, nil
	}
	seen := map[string]bool{}
	for _, o := range strings.Split(opts, ",") {
		key, val, hasVal := strings.Cut(o, "=")
		if seen[key] {
			return "", v, syscall.EINVAL
		}
		seen[key] = true
		var err error
		switch {
		case key == "msgtyp" && hasVal:
			v.typ, err = strconv.ParseInt(val, 10, 64)
		case key == "mtype" && hasVal:
			v.mtype, err = strconv.ParseInt(val, 10, 64)
			v.mtext = true
		case hasVal:
			return "", v, syscall.EINVAL
		case key == "mtext":
			v.mtext = true
		case key == "recv":
		case key == "MSG_EXCEPT":
			v.flags |= nsmodel.MsgExcept
		case key == "MSG_NOERROR":
			v.flags |= nsmodel.MsgNoError
		case key == "MSG_COPY":
			v.flags |= nsmodel.MsgCopy
		case key == "IPC_NOWAIT":
			v.flags |= nsmodel.IPCNoWait
		default:
			return "", v, syscall.EINVAL
		}
		if err != nil {
			return "", v, syscall.EINVAL
		}
	}
	v.spec = strconv.FormatInt(v.typ, 10) + "," + strconv.Itoa(v.flags) + "," +
		strconv.FormatBool(v.mtext) + "," + strconv.FormatInt(v.mtype, 10)
	return entry, v, nil
}

// ino is the inode number of a name of queue serial: the queue's own for
// its own name, one of its own for a name with options (ident.go).
func (v msgView) ino(serial uint64) uint64 {
	if v.spec == "" {
		return serialIno(serial)
	}
	return optionIno(serial, v.spec)
}
