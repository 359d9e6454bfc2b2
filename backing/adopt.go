package backing

import (
	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/nsmodel"
)

// Adopt makes a page store of an existing memfd, which it takes: the
// memfd of a segment that a server restarting after a crash got back from
// the keeper (docs/crash.md). A huge page memfd's size is taken as its
// file's, a whole number of huge pages.
func Adopt(fd int, hugetlb bool) (nsmodel.Pages, error) {
	m := &Memfd{fd: fd}
	if hugetlb {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return nil, err
		}
		m.more.Store(&memfdMore{huge: st.Blksize, size: st.Size})
	}
	return m, nil
}
