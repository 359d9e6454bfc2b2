package nsmodel_test

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/nsmodel"
)

// shmgetCall is one shmget, and what the kernel and the model both say
// to it.
type shmgetCall struct {
	what  string
	key   int32
	size  uint64
	flag  int // IPC_CREAT, IPC_EXCL and the nine permission bits
	limit string
	value string // written to limit before the call, when limit is set
	want  unix.Errno
}

// shmgetScript walks through every errno of shmget that the limits and
// the key table decide, with shmmni 3, shmmax 10000 and shmall 5 pages.
var shmgetScript = []shmgetCall{
	{what: "shmmni", limit: "shmmni", value: "3"},
	{what: "shmmax", limit: "shmmax", value: "10000"},
	{what: "shmall", limit: "shmall", value: "5"},
	{what: "size 0 (below SHMMIN)", key: 1, size: 0, flag: unix.IPC_CREAT | 0o600, want: unix.EINVAL},
	{what: "size over shmmax", key: 1, size: 10001, flag: unix.IPC_CREAT | 0o600, want: unix.EINVAL},
	{what: "unknown key without IPC_CREAT", key: 1, size: 1, flag: 0o600, want: unix.ENOENT},
	{what: "size = shmmax", key: 1, size: 10000, flag: unix.IPC_CREAT | 0o600},
	{what: "existing key, size 0", key: 1, size: 0, flag: 0},
	{what: "existing key, its size", key: 1, size: 10000, flag: 0o600},
	{what: "existing key, larger size", key: 1, size: 10001, flag: 0o600, want: unix.EINVAL},
	{what: "existing key, IPC_CREAT", key: 1, size: 1, flag: unix.IPC_CREAT | 0o600},
	{what: "existing key, IPC_CREAT|IPC_EXCL", key: 1, size: 1, flag: unix.IPC_CREAT | unix.IPC_EXCL | 0o600, want: unix.EEXIST},
	{what: "EEXIST before the size check", key: 1, size: 20000, flag: unix.IPC_CREAT | unix.IPC_EXCL, want: unix.EEXIST},
	{what: "3 pages + 3 pages over shmall 5", key: 2, size: 8193, flag: unix.IPC_CREAT | 0o600, want: unix.ENOSPC},
	{what: "shmmax before shmall", key: 2, size: 10001, flag: unix.IPC_CREAT | 0o600, want: unix.EINVAL},
	{what: "3 + 2 pages = shmall", key: 2, size: 8192, flag: unix.IPC_CREAT | 0o600},
	{what: "a page over a full shmall", key: 3, size: 1, flag: unix.IPC_CREAT | 0o600, want: unix.ENOSPC},
	{what: "IPC_PRIVATE over a full shmall", key: 0, size: 1, flag: 0o600, want: unix.ENOSPC},
	{what: "shmall up", limit: "shmall", value: "100"},
	{what: "third segment", key: 3, size: 1, flag: unix.IPC_CREAT | 0o600},
	{what: "fourth segment over shmmni", key: 4, size: 1, flag: unix.IPC_CREAT | 0o600, want: unix.ENOSPC},
	{what: "IPC_PRIVATE over shmmni", key: 0, size: 1, flag: 0o600, want: unix.ENOSPC},
	{what: "size checks before shmmni", key: 4, size: 10001, flag: unix.IPC_CREAT | 0o600, want: unix.EINVAL},
	{what: "shmmni 0", limit: "shmmni", value: "0"},
	{what: "existing keys still found", key: 3, size: 1, flag: 0o600},
	{what: "nothing new at shmmni 0", key: 5, size: 1, flag: unix.IPC_CREAT | 0o600, want: unix.ENOSPC},
}

func TestShmgetErrnos(t *testing.T) {
	tab, ns, _ := shmTable(t)
	me := nsmodel.NewFixedCred(0, 0, int32(os.Getpid()), nil, ^uint64(0))
	run := func(c shmgetCall) (unix.Errno, int32) {
		if c.limit != "" {
			setLimit(t, ns, c.limit, c.value)
			return 0, 0
		}
		s, err := tab.Get(me, nsmodel.ShmGet{
			Key: c.key, Size: c.size, Mode: uint32(c.flag) & 0o777,
			Create: c.flag&unix.IPC_CREAT != 0 || c.key == nsmodel.IPCPrivate,
			Excl:   c.flag&unix.IPC_EXCL != 0,
		})
		if err != nil {
			return errnoOf(err), -1
		}
		return 0, nsmodel.IDOf(s)
	}
	for _, c := range shmgetScript {
		if got, _ := run(c); got != c.want {
			t.Errorf("%s: model says %v, want %v", c.what, errName(got), errName(c.want))
		}
	}

	// The same script against the kernel, in a fresh model.
	tab, ns, _ = shmTable(t)
	inPrivateIPC(t, func() {
		for _, c := range shmgetScript {
			if c.limit != "" {
				if err := os.WriteFile("/proc/sys/kernel/"+c.limit, []byte(c.value), 0); err != nil {
					t.Errorf("%s: %v", c.what, err)
					return
				}
			}
			mErr, mID := run(c)
			if c.limit != "" {
				continue
			}
			kID, err := unix.SysvShmGet(int(c.key), int(c.size), c.flag)
			kErr := errnoOf(err)
			if kErr != mErr || (kErr == 0 && int32(kID) != mID) {
				t.Errorf("%s: kernel says %v (id %d), model %v (id %d)", c.what, errName(kErr), kID, errName(mErr), mID)
			}
		}
	})
}
