package fs

import (
	"errors"
	"syscall"
	"testing"

	"github.com/shmfs/shmfs/nsmodel"
)

func TestParseCtlSplits(t *testing.T) {
	c, err := parseCtl([]byte("IPC_SET  0x10\tuid=5 mode=0640 IPC_EXCL\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.op != "IPC_SET" || len(c.words) != 2 || c.words[0] != "0x10" || c.words[1] != "IPC_EXCL" || c.args["uid"] != "5" || c.args["mode"] != "0640" {
		t.Fatalf("%+v", c)
	}
	ref, err := c.object()
	if err != nil || ref.ByID || ref.Key != 0x10 {
		t.Fatalf("object: %+v %v", ref, err)
	}
	if !c.flag("IPC_EXCL") || c.flag("IPC_EXCL") {
		t.Fatal("flag is taken once")
	}
	a, err := c.setAttr(false)
	if err != nil || a.UID == nil || *a.UID != 5 || a.Mode == nil || *a.Mode != 0o640 || a.GID != nil || a.QBytes != nil {
		t.Fatalf("setAttr: %+v %v", a, err)
	}
	if err := c.done(); err != nil {
		t.Fatalf("done after taking everything: %v", err)
	}
}

func TestParseCtlRefuses(t *testing.T) {
	for _, in := range []string{"", "\n", " \t ", "A\nB", "A\n\n", "A\x00", "A x=1 x=2", "A =1"} {
		if _, err := parseCtl([]byte(in)); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("parseCtl(%q): %v, want EINVAL", in, err)
		}
	}
}

func TestCtlObject(t *testing.T) {
	for _, c := range []struct {
		in   string
		want nsmodel.Ref
		err  error
	}{
		{"X 0x0000162e", nsmodel.Ref{Key: 0x162e}, nil},
		{"X 5678", nsmodel.Ref{Key: 5678}, nil},
		{"X -2", nsmodel.Ref{Key: -2}, nil},
		{"X id=7", nsmodel.Ref{ByID: true, ID: 7}, nil},
		{"X private.3", nsmodel.Ref{ByID: true, ID: 3}, nil},
		{"X", nsmodel.Ref{}, syscall.EINVAL},
		{"X IPC_PRIVATE", nsmodel.Ref{}, syscall.EINVAL},
		{"X 0x", nsmodel.Ref{}, syscall.EINVAL},
		{"X id=-1", nsmodel.Ref{}, syscall.EINVAL},
		{"X id=", nsmodel.Ref{}, syscall.EINVAL},
		{"X private.x", nsmodel.Ref{}, syscall.EINVAL},
	} {
		cmd, err := parseCtl([]byte(c.in))
		if err != nil {
			t.Fatal(err)
		}
		ref, err := cmd.object()
		if !errors.Is(err, c.err) || (err == nil && ref != c.want) {
			t.Errorf("%q: %+v %v, want %+v %v", c.in, ref, err, c.want, c.err)
		}
	}
}

func TestCtlFields(t *testing.T) {
	for _, c := range []struct {
		in     string
		qbytes bool
		ok     bool
	}{
		{"X mode=0", false, true},
		{"X mode=0777", false, true},
		{"X mode=777", false, true},
		{"X mode=01000", false, false},
		{"X mode=0778", false, false},
		{"X mode=", false, false},
		{"X uid=4294967294", false, true},
		{"X uid=4294967296", false, false},
		{"X uid=-1", false, false},
		{"X gid=0x10", false, false},
		{"X", false, false},
		{"X qbytes=10", true, true},
		{"X qbytes=10", false, false},
		{"X mode=0600 qbytes=10", false, false}, // not taken: done refuses it
	} {
		cmd, _ := parseCtl([]byte(c.in))
		_, err := cmd.setAttr(c.qbytes)
		if err == nil {
			err = cmd.done()
		}
		if (err == nil) != c.ok {
			t.Errorf("%q (qbytes %v): %v, want ok=%v", c.in, c.qbytes, err, c.ok)
		}
	}
	// A size is decimal and fits 64 bits.
	for in, ok := range map[string]bool{"X size=0": true, "X size=18446744073709551615": true, "X size=18446744073709551616": false, "X size=0x10": false, "X size=-1": false} {
		cmd, _ := parseCtl([]byte(in))
		n, err := cmd.uint("size", 10, 64)
		if (err == nil && n != nil) != ok {
			t.Errorf("%q: %v %v", in, n, err)
		}
	}
}

func TestCtlDoneRefusesLeftovers(t *testing.T) {
	for _, in := range []string{"X 0x1 extra", "X 0x1 a=b", "X id=1 0x1"} {
		cmd, _ := parseCtl([]byte(in))
		if _, err := cmd.object(); err != nil {
			t.Fatal(err)
		}
		if err := cmd.done(); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("%q: done %v, want EINVAL", in, err)
		}
	}
}
