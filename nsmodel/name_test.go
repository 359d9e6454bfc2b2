package nsmodel_test

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/nsmodel"
)

func TestEntryName(t *testing.T) {
	cases := []struct {
		p    nsmodel.Perm
		want string
	}{
		{nsmodel.Perm{Key: 0x162e}, "0x0000162e"},
		{nsmodel.Perm{Key: -1}, "0xffffffff"},
		{nsmodel.Perm{Key: -0x80000000}, "0x80000000"},
		{nsmodel.Perm{Key: 0, ID: 32768}, "private.32768"},
	}
	for _, c := range cases {
		name := nsmodel.EntryName(&c.p)
		if name != c.want {
			t.Errorf("%+v: %q, want %q", c.p, name, c.want)
		}
		ref, err := nsmodel.ParseEntryName(name)
		want := nsmodel.Ref{Key: c.p.Key}
		if c.p.Key == 0 {
			want = nsmodel.Ref{ByID: true, ID: c.p.ID}
		}
		if err != nil || ref != want {
			t.Errorf("ParseEntryName(%q) = %+v, %v", name, ref, err)
		}
	}
	for _, bad := range []string{"0x162e", "0x0000162E", "0X0000162e", "0x00000000", "0x1234567890", "0x0000162g",
		"private.", "private.01", "private.-1", "private.+1", "private.2147483648", "private.1x", "ctl", "5678", ""} {
		if ref, err := nsmodel.ParseEntryName(bad); err != unix.EINVAL {
			t.Errorf("ParseEntryName(%q) = %+v, %v", bad, ref, err)
		}
	}
}

func TestParseKeyAndRef(t *testing.T) {
	keys := map[string]int32{
		"0x162e": 0x162e, "0X162E": 0x162e, "5678": 5678, "-1": -1, "4294967295": -1,
		"-2147483648": -0x80000000, "IPC_PRIVATE": 0, "0": 0, "0xffffffff": -1,
	}
	for s, want := range keys {
		if got, err := nsmodel.ParseKey(s); err != nil || got != want {
			t.Errorf("ParseKey(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, bad := range []string{"", "0x", "0x100000000", "4294967296", "-2147483649", "key", "1.5", "ipc_private"} {
		if _, err := nsmodel.ParseKey(bad); err != unix.EINVAL {
			t.Errorf("ParseKey(%q): %v", bad, err)
		}
	}

	refs := map[string]nsmodel.Ref{
		"id=5":       {ByID: true, ID: 5},
		"id=0":       {ByID: true, ID: 0},
		"private.7":  {ByID: true, ID: 7},
		"0x0000162e": {Key: 0x162e},
		"5678":       {Key: 5678},
	}
	for s, want := range refs {
		if got, err := nsmodel.ParseRef(s); err != nil || got != want {
			t.Errorf("ParseRef(%q) = %+v, %v", s, got, err)
		}
	}
	for _, bad := range []string{"id=-1", "id=", "id=x", "id=2147483648", "IPC_PRIVATE", "0", "0x0", "private.x", ""} {
		if _, err := nsmodel.ParseRef(bad); err != unix.EINVAL {
			t.Errorf("ParseRef(%q): %v", bad, err)
		}
	}
}
