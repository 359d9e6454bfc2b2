package nsmodel

import (
	"fmt"
	"strings"
)

// The headers of /proc/sysvipc/*, byte for byte.
const (
	shmHeader = "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n"
	msgHeader = "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime\n"
	semHeader = "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n"
)

// SysvipcShm renders the table as /proc/sysvipc/shm does
// (sysvipc_shm_proc_show): key as signed decimal, mode in octal with the
// SHM_DEST and SHM_LOCKED bits, rss in bytes.
func (t *ShmTable) SysvipcShm() string {
	var b strings.Builder
	b.WriteString(shmHeader)
	for _, s := range t.Stats() {
		fmt.Fprintf(&b, "%10d %10d  %4o %21d %5d %5d  %5d %5d %5d %5d %5d %10d %10d %10d %21d %21d\n",
			s.Key, s.ID, s.Mode, s.Size, s.CPID, s.LPID, s.Nattch,
			s.UID, s.GID, s.CUID, s.CGID, s.Atime, s.Dtime, s.Ctime,
			s.Resident, 0)
	}
	return b.String()
}
