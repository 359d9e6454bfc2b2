package nsmodel_test

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/nsmodel"
)

// TestDefaultLimitsAsTheKernel reads /proc/sys/kernel in a fresh IPC
// namespace, where every limit is the kernel's default, and wants Format
// to say the same bytes.
func TestDefaultLimitsAsTheKernel(t *testing.T) {
	def := nsmodel.DefaultLimits()
	inPrivateIPC(t, func() {
		for _, name := range nsmodel.LimitNames {
			want, err := os.ReadFile("/proc/sys/kernel/" + name)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if got, _ := def.Format(name); got != string(want) {
				t.Errorf("%s: Format says %q, the kernel %q", name, got, want)
			}
		}
	})
}

// limitWrites are written, one write each, to every limit.
var limitWrites = []string{
	"5", "5\n", " 5", "\t5", "\r5", "\v5", "\f5", "5 ", "5\r", "5\v", "5\x00", "5,6", "5-6", "5x", "5 x",
	"-1", "-0", "0", "-5", "-", "-x", "--5", "- 5", "+5",
	"32768", "32769", "2147483647", "2147483648", "-2147483648", "-2147483649", "4294967296",
	"99999999999999999999", "18446744073709551615", "18446744073709551616",
	"\n", " ", "\n\n", "abc", "1e3",
	"0x10", "0X10", "0x7fffffff", "0x80000000", "0x", "0xg", "0x1g", "010", "08", "007", "05",
	"00000000000000000005", "000000000000000000005", "-0000000000000000005",
	"5 6", "5\t6", "5\n6", "5  6", "5\n\n\n6", "  7\n\n", " \n 5 \n ",
	"1 2 3 4", "1 2 3 4 5", "1 2 3", "1\t2\t3\t4\n", "1 2 3 4 \n", "1 2 3 4\n5", "1 2 3 4x",
	"-1 -2 -3 -4", "1 2 3 32768", "1 2 3 32769", "1 2 3 -1", "a 2 3 4", "2147483648 1 1 1", "0x10 2 3 4",
	strings.Repeat(" ", 5000) + "5",
}

// TestParseAsTheKernel writes each of limitWrites to each limit, in a
// fresh IPC namespace for each, and wants Parse to give the kernel's
// errno and, when the write succeeds, the value the kernel then reads
// back. A write that fails must change nothing in the model, where the
// kernel keeps the values it read before the bad one.
func TestParseAsTheKernel(t *testing.T) {
	for _, name := range nsmodel.LimitNames {
		for _, text := range limitWrites {
			var kerr error
			var kval []byte
			inPrivateIPC(t, func() {
				fd, err := unix.Open("/proc/sys/kernel/"+name, unix.O_WRONLY, 0)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					return
				}
				_, kerr = unix.Write(fd, []byte(text))
				unix.Close(fd)
				kval, _ = os.ReadFile("/proc/sys/kernel/" + name)
			})
			l := nsmodel.DefaultLimits()
			merr := l.Parse(name, text)
			if errnoOf(kerr) != errnoOf(merr) {
				t.Errorf("%s <- %q: kernel %v, model %v", name, text, errName(kerr), errName(merr))
				continue
			}
			got, _ := l.Format(name)
			if merr != nil {
				if l != nsmodel.DefaultLimits() {
					t.Errorf("%s <- %q failed but changed the limits to %+v", name, text, l)
				}
			} else if got != string(kval) {
				t.Errorf("%s <- %q: kernel reads back %q, model %q", name, text, kval, got)
			}
		}
	}
}

func TestParse(t *testing.T) {
	cases := []struct {
		name, text string
		want       error
		check      func(l nsmodel.Limits) bool
	}{
		{"shmmni", "32768", nil, func(l nsmodel.Limits) bool { return l.ShmMni == 32768 }},
		{"shmmni", "32769", unix.EINVAL, nil},
		{"msgmni", "-1", unix.EINVAL, nil},
		{"msgmax", "2147483647", nil, func(l nsmodel.Limits) bool { return l.MsgMax == 1<<31-1 }},
		{"msgmnb", "0x10", nil, func(l nsmodel.Limits) bool { return l.MsgMnb == 16 }},
		{"shmmax", "18446744073709551615", nil, func(l nsmodel.Limits) bool { return l.ShmMax == 1<<64-1 }},
		{"shmall", "-0", unix.EINVAL, nil},
		{"sem", "1 2", nil, func(l nsmodel.Limits) bool { return l.SemMsl == 1 && l.SemMns == 2 && l.SemOpm == 500 }},
		{"sem", "-1 2 3 4", nil, func(l nsmodel.Limits) bool { return l.SemMsl == -1 && l.SemMni == 4 }},
		{"sem", "1 2 3 32769", unix.ERANGE, nil},
		{"sem", "1 2 3 4x", unix.EINVAL, nil},
		{"shmmni", "", nil, func(l nsmodel.Limits) bool { return l == nsmodel.DefaultLimits() }},
		{"shmmni", "\n", unix.EINVAL, nil},
		{"nosuch", "1", unix.ENOENT, nil},
	}
	for _, c := range cases {
		l := nsmodel.DefaultLimits()
		err := l.Parse(c.name, c.text)
		wantErr(t, c.name+" <- "+c.text, err, c.want)
		if err != nil && l != nsmodel.DefaultLimits() {
			t.Errorf("%s <- %q: failed and changed %+v", c.name, c.text, l)
		}
		if c.check != nil && !c.check(l) {
			t.Errorf("%s <- %q: limits now %+v", c.name, c.text, l)
		}
	}
	if _, err := (&nsmodel.Limits{}).Format("nosuch"); err != unix.ENOENT {
		t.Errorf("Format of an unknown limit: %v", err)
	}
}

// TestSetLimit: only euid 0 writes limits, as the files of
// /proc/sys/kernel are 0644 root and no capability bypasses that.
func TestSetLimit(t *testing.T) {
	m, _ := newModel(t)
	ns := m.Get(nsmodel.DefaultNamespace)
	capsNotRoot := nsmodel.NewFixedCred(1, 1, 1, nil, ^uint64(0))
	wantErr(t, "limit write with every capability, uid 1", ns.SetLimit(capsNotRoot, "shmmni", "5"), unix.EACCES)
	rootNoCaps := nsmodel.NewFixedCred(0, 0, 1, nil, 0)
	wantErr(t, "limit write as uid 0 without capabilities", ns.SetLimit(rootNoCaps, "shmmni", "5"), nil)
	wantErr(t, "bad limit write", ns.SetLimit(rootNoCaps, "shmmni", "-5"), unix.EINVAL)
	if got := ns.Limits().ShmMni; got != 5 {
		t.Errorf("shmmni %d", got)
	}
	other, _ := m.Create("other")
	if got := other.Limits(); got != nsmodel.DefaultLimits() {
		t.Errorf("a new namespace has limits %+v", got)
	}
}
