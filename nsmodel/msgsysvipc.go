package nsmodel

import (
	"fmt"
	"strings"
)

// SysvipcMsg renders the table as /proc/sysvipc/msg does
// (sysvipc_msg_proc_show): key as signed decimal, mode in octal, then
// q_cbytes, q_qnum, the last sender and receiver, the owner and creator,
// and the three times, with the widths and signedness of a 64-bit
// kernel.
func (t *MsgTable) SysvipcMsg() string {
	var b strings.Builder
	b.WriteString(msgHeader)
	for _, s := range t.Stats() {
		fmt.Fprintf(&b, "%10d %10d  %4o  %10d %10d %5d %5d %5d %5d %5d %5d %10d %10d %10d\n",
			s.Key, s.ID, s.Mode, s.CBytes, s.QNum, uint32(s.LSPID), uint32(s.LRPID),
			s.UID, s.GID, s.CUID, s.CGID, uint64(s.Stime), uint64(s.Rtime), uint64(s.Ctime))
	}
	return b.String()
}
