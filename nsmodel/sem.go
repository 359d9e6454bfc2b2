package nsmodel

// SemTable is the semaphore set id table of a namespace.
type SemTable struct {
	Registry
	ns *Namespace
}

func newSemTable(ns *Namespace) *SemTable {
	t := &SemTable{ns: ns}
	t.init()
	return t
}

// SysvipcSem renders the table as /proc/sysvipc/sem does.
func (t *SemTable) SysvipcSem() string { return semHeader }
