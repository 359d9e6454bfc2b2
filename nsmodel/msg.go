package nsmodel

// MsgTable is the message queue id table of a namespace.
type MsgTable struct {
	Registry
	ns *Namespace
}

func newMsgTable(ns *Namespace) *MsgTable {
	t := &MsgTable{ns: ns}
	t.init()
	return t
}

// SysvipcMsg renders the table as /proc/sysvipc/msg does.
func (t *MsgTable) SysvipcMsg() string { return msgHeader }
