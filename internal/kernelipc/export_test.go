package kernelipc

// Call runs fn on a serving thread of ns with credentials c, for tests
// that look at the thread from inside.
func (ns *Namespace) Call(c *Cred, fn func() error) error { return ns.call(c, fn) }
