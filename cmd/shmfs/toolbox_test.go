package main

import (
	"strings"
	"testing"
)

// TestHelperFlags: mount options as mount(8) passes them map to flags;
// the generic ones go, anything else is refused with its name, unless
// sloppy.
func TestHelperFlags(t *testing.T) {
	got, err := helperFlags(strings.Split("rw,nosuid,nodev,allow_other,isolate,no_passthrough,debug,log=/tmp/a b.log,_netdev,x-systemd.automount,io_uring=off,relatime,comment=x", ","), false)
	if err != nil {
		t.Fatal(err)
	}
	if want := "--allow-other --isolate --no-passthrough --debug --log /tmp/a b.log --io-uring off"; strings.Join(got, " ") != want {
		t.Errorf("flags %q, want %q", got, want)
	}
	for opt, want := range map[string]string{
		"bogus":      `unknown option "bogus"`,
		"ro":         "ro: shmfs cannot be mounted read-only",
		"io_uring=2": "io_uring=2: want auto, on or off",
		"log=":       "log= needs a file",
	} {
		if _, err := helperFlags([]string{opt}, false); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", opt, err, want)
		}
	}
	if got, err := helperFlags([]string{"bogus", "isolate"}, true); err != nil || strings.Join(got, " ") != "--isolate" {
		t.Errorf("sloppy: %q %v", got, err)
	}
}

func TestEscapePath(t *testing.T) {
	for in, want := range map[string]string{
		"/mnt/shmfs": "mnt-shmfs", "/": "-", "/tmp/my mnt/": "tmp-my_mnt", "/.x/a-b": "_x-a-b",
	} {
		if got := escapePath(in); got != want {
			t.Errorf("escapePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPassthroughOffered(t *testing.T) {
	yes := map[string]string{"CONFIG_FUSE_PASSTHROUGH": "y"}
	for _, c := range []struct {
		release string
		cfg     map[string]string
		want    bool
	}{
		{"6.8.0-45-generic", yes, false},
		{"6.9.0", yes, true},
		{"7.0.1", yes, true},
		{"5.15.0", yes, false},
		{"6.18.44-fc", map[string]string{}, false},
		{"6.18.44-fc", nil, true},
		{"garbage", yes, false},
	} {
		if got, why := passthroughOffered(c.release, c.cfg); got != c.want {
			t.Errorf("%s %v: %v (%s), want %v", c.release, c.cfg, got, why, c.want)
		}
	}
}
