package main

import (
	"net"
	"os"
	"strings"
)

// sdNotify sends state to the service manager, as sd_notify(3) does: one
// datagram of NAME=value lines to the unix socket $NOTIFY_SOCKET names
// (a leading "@" is an abstract address). Without $NOTIFY_SOCKET it does
// nothing; a failure is only reported, never fatal: the mount works
// whether or not anyone listens.
func sdNotify(state ...string) error {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return nil
	}
	if addr[0] == '@' {
		// Go's net package writes an abstract address with a leading NUL
		// when the name starts with "@".
	} else if addr[0] != '/' {
		return nil // vsock: and the like are not for us
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(strings.Join(state, "\n") + "\n"))
	return err
}
