package fs

import (
	"strconv"
	"strings"
	"syscall"

	"github.com/shmfs/shmfs/nsmodel"
)

// ctlCmd is one command written to a ctl file: an operation, then bare
// words and name=value fields separated by blanks. Each accessor consumes
// what it reads, so that done can refuse whatever the command did not
// use.
type ctlCmd struct {
	op    string
	words []string
	args  map[string]string
}

// parseCtl splits one write into a command. More than one line, an empty
// command or a field given twice is EINVAL. Every error here and in the
// accessors below is a refusal that says why (reason.go).
func parseCtl(data []byte) (*ctlCmd, error) {
	text := strings.TrimSuffix(string(data), "\n")
	if strings.Contains(text, "\n") {
		return nil, refuse(syscall.EINVAL, "one command per write")
	}
	if strings.Contains(text, "\x00") {
		return nil, refuse(syscall.EINVAL, "a NUL byte in the command")
	}
	f := strings.Fields(text)
	if len(f) == 0 {
		return nil, refuse(syscall.EINVAL, "empty command")
	}
	c := &ctlCmd{op: f[0], args: make(map[string]string)}
	for _, w := range f[1:] {
		name, val, ok := strings.Cut(w, "=")
		if !ok {
			c.words = append(c.words, w)
			continue
		}
		if name == "" {
			return nil, refuse(syscall.EINVAL, "field %q has no name", w)
		}
		if _, dup := c.args[name]; dup {
			return nil, refuse(syscall.EINVAL, "%s= given twice", name)
		}
		c.args[name] = val
	}
	return c, nil
}

// object takes the object a command names: a key or private.<id> as the
// first word, or id=N.
func (c *ctlCmd) object() (nsmodel.Ref, error) {
	w := ""
	if v, ok := c.args["id"]; ok {
		delete(c.args, "id")
		w = "id=" + v
	} else if len(c.words) > 0 {
		w = c.words[0]
		c.words = c.words[1:]
	} else {
		return nsmodel.Ref{}, refuse(syscall.EINVAL, "%s names no object (a key such as 0x0000162e, private.<id> or id=N)", c.op)
	}
	ref, err := nsmodel.ParseRef(w)
	if err != nil {
		return ref, refuse(errno(err), "%s is no object name (a key such as 0x0000162e, private.<id> or id=N)", w)
	}
	return ref, nil
}

// flag takes a bare word such as IPC_EXCL.
func (c *ctlCmd) flag(name string) bool {
	for i, w := range c.words {
		if w == name {
			c.words = append(c.words[:i:i], c.words[i+1:]...)
			return true
		}
	}
	return false
}

// str takes a name=value field.
func (c *ctlCmd) str(name string) (string, bool) {
	v, ok := c.args[name]
	delete(c.args, name)
	return v, ok
}

// uint takes a numeric field in the given base; nil when it is absent.
func (c *ctlCmd) uint(name string, base, bits int) (*uint64, error) {
	v, ok := c.str(name)
	if !ok {
		return nil, nil
	}
	n, err := strconv.ParseUint(v, base, bits)
	if err != nil {
		what := "decimal"
		if base == 8 {
			what = "octal"
		}
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return nil, refuse(syscall.EINVAL, "%s %s is out of range", name, v)
		}
		return nil, refuse(syscall.EINVAL, "%s %s is not %s", name, v, what)
	}
	return &n, nil
}

// mode takes mode=0NNN: octal, nine permission bits at most.
func (c *ctlCmd) mode() (*uint32, error) {
	n, err := c.uint("mode", 8, 32)
	if err != nil || n == nil {
		return nil, err
	}
	if *n > 0o777 {
		return nil, refuse(syscall.EINVAL, "mode %#o has bits beyond 0777", *n)
	}
	m := uint32(*n)
	return &m, nil
}

// key takes the key=<key>|key=IPC_PRIVATE that IPC_CREAT must have.
func (c *ctlCmd) key() (int32, error) {
	v, ok := c.str("key")
	if !ok {
		return 0, refuse(syscall.EINVAL, "key= is required (key=0x<hex>, a decimal number or IPC_PRIVATE)")
	}
	k, err := nsmodel.ParseKey(v)
	if err != nil {
		return 0, refuse(errno(err), "key %s is not 0x<hex>, a decimal number or IPC_PRIVATE", v)
	}
	return k, nil
}

// createMode takes the mode of an IPC_CREAT: mode=0NNN, 0600 when absent.
func (c *ctlCmd) createMode() (uint32, error) {
	m, err := c.mode()
	if err != nil {
		return 0, err
	}
	if m == nil {
		return 0o600, nil
	}
	return *m, nil
}

// setAttr takes the fields of an IPC_SET.
func (c *ctlCmd) setAttr(qbytes bool) (nsmodel.SetAttr, error) {
	var a nsmodel.SetAttr
	for _, id := range []struct {
		name string
		dst  **uint32
	}{{"uid", &a.UID}, {"gid", &a.GID}} {
		n, err := c.uint(id.name, 10, 32)
		if err != nil {
			return a, err
		}
		if n != nil {
			v := uint32(*n)
			*id.dst = &v
		}
	}
	m, err := c.mode()
	if err != nil {
		return a, err
	}
	a.Mode = m
	if qbytes {
		if a.QBytes, err = c.uint("qbytes", 10, 64); err != nil {
			return a, err
		}
	}
	if a.UID == nil && a.GID == nil && a.Mode == nil && a.QBytes == nil {
		if qbytes {
			return a, refuse(syscall.EINVAL, "IPC_SET sets nothing: give uid=, gid=, mode= or qbytes=")
		}
		return a, refuse(syscall.EINVAL, "IPC_SET sets nothing: give uid=, gid= or mode=")
	}
	return a, nil
}

// done refuses a command with words or fields left that nothing took.
func (c *ctlCmd) done() error {
	if len(c.words) > 0 {
		return refuse(syscall.EINVAL, "%s does not take %q", c.op, c.words[0])
	}
	for name := range c.args {
		return refuse(syscall.EINVAL, "%s does not take %s=", c.op, name)
	}
	return nil
}
