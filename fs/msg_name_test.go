package fs

import (
	"syscall"
	"testing"

	"github.com/shmfs/shmfs/nsmodel"
)

func TestParseMsgName(t *testing.T) {
	for _, c := range []struct {
		name  string
		entry string
		view  msgView
	}{
		{"0x0000162e", "0x0000162e", msgView{mtype: 1, peek: true}},
		{"0x0000162e,recv", "0x0000162e", msgView{mtype: 1}},
		{"private.7,msgtyp=-5,MSG_NOERROR", "private.7", msgView{typ: -5, flags: nsmodel.MsgNoError, mtype: 1}},
		{"0x00000001,MSG_COPY,IPC_NOWAIT,msgtyp=3", "0x00000001", msgView{typ: 3, flags: nsmodel.MsgCopy | nsmodel.IPCNoWait, mtype: 1}},
		{"0x00000001,MSG_EXCEPT,msgtyp=2", "0x00000001", msgView{typ: 2, flags: nsmodel.MsgExcept, mtype: 1}},
		{"0x00000001,mtext", "0x00000001", msgView{mtext: true, mtype: 1}},
		{"0x00000001,mtype=9", "0x00000001", msgView{mtext: true, mtype: 9}},
		{"0x00000001,mtype=0", "0x00000001", msgView{mtext: true, mtype: 0}},
	} {
		entry, v, err := parseMsgName(c.name)
		v.spec = ""
		if err != nil || entry != c.entry || v != c.view {
			t.Errorf("%s: %q %+v %v, want %q %+v", c.name, entry, v, err, c.entry, c.view)
		}
	}
	for _, bad := range []string{
		"0x1,", "0x1,,mtext", "0x1,bogus", "0x1,msgtyp", "0x1,msgtyp=", "0x1,msgtyp=x",
		"0x1,msgtyp=1,msgtyp=1", "0x1,mtext=1", "0x1,MSG_COPY,MSG_COPY", "0x1,msg_copy",
		"0x1,msgtyp=99999999999999999999",
	} {
		if _, _, err := parseMsgName(bad); err != syscall.EINVAL {
			t.Errorf("%s: %v, want EINVAL", bad, err)
		}
	}
}

func TestMsgViewIno(t *testing.T) {
	_, plain, _ := parseMsgName("0x1")
	_, a, _ := parseMsgName("0x1,msgtyp=2,MSG_EXCEPT")
	_, b, _ := parseMsgName("0x1,MSG_EXCEPT,msgtyp=2")
	_, c, _ := parseMsgName("0x1,msgtyp=2")
	if plain.ino(42) != serialIno(42) {
		t.Errorf("the queue's own name: ino %d", plain.ino(42))
	}
	if a.ino(42) != b.ino(42) || a.ino(42) == c.ino(42) || a.ino(42) == a.ino(43) {
		t.Errorf("inos: %x %x %x %x", a.ino(42), b.ino(42), c.ino(42), a.ino(43))
	}
	if ino := a.ino(42); ino>>62 != 1 {
		t.Errorf("option ino %x outside [2^62, 2^63)", ino)
	}
}
