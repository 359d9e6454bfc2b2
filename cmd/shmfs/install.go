package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/shmfs/shmfs/contrib"
)

func installCmd(args []string) error {
	fl := flag.NewFlagSet("install", flag.ContinueOnError)
	const usage = `usage: shmfs install [--prefix DIR] [--sbindir DIR]

Installs this binary as PREFIX/bin/shmfs, the mount(8) helper as a
symbolic link SBINDIR/mount.fuse.shmfs -> PREFIX/bin/shmfs (so that
"mount -t fuse.shmfs" and fstab lines of type fuse.shmfs work), and the
systemd unit contrib/shmfs.service as PREFIX/lib/systemd/system/shmfs.service
with PREFIX/bin/shmfs as its binary. It prints each path it wrote.

mount(8) runs helpers from /sbin only (/sbin/fs.d and /sbin/fs too), so
SBINDIR is /sbin unless --prefix is given, when it is PREFIX/sbin (for a
staged install, or a test).

flags:
`
	prefix := fl.String("prefix", "/usr/local", "install under `DIR`")
	sbindir := fl.String("sbindir", "/sbin", "put the mount helper link in `DIR` (PREFIX/sbin when --prefix is given)")
	operands, help, err := parseFlags(fl, usage, args)
	if err != nil {
		return fmt.Errorf("install: %v", err)
	}
	if help {
		return nil
	}
	if len(operands) != 0 {
		return errors.New("install: takes no operands (see shmfs install --help)")
	}
	set := map[string]bool{}
	fl.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["prefix"] && !set["sbindir"] {
		*sbindir = filepath.Join(*prefix, "sbin")
	}
	p, err := filepath.Abs(*prefix)
	if err != nil {
		return fmt.Errorf("install: %v", err)
	}
	sb, err := filepath.Abs(*sbindir)
	if err != nil {
		return fmt.Errorf("install: %v", err)
	}
	bin := filepath.Join(p, "bin", "shmfs")
	link := filepath.Join(sb, helperName)
	unit := filepath.Join(p, "lib", "systemd", "system", "shmfs.service")

	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("install: finding this binary: %v", err)
	}
	if err := installFile(self, bin); err != nil {
		return fmt.Errorf("install %s: %v", bin, err)
	}
	fmt.Println(bin)
	if err := installLink(bin, link); err != nil {
		return fmt.Errorf("install %s: %v", link, err)
	}
	fmt.Printf("%s -> %s\n", link, bin)
	text := strings.ReplaceAll(contrib.Unit, contrib.UnitBinary, bin)
	if err := writeAtomic(unit, strings.NewReader(text), 0o644); err != nil {
		return fmt.Errorf("install %s: %v", unit, err)
	}
	fmt.Println(unit)
	return nil
}

// installFile copies src to dst (mode 0755), replacing dst at once: a
// server running the old binary keeps running it.
func installFile(src, dst string) error {
	if a, err := os.Stat(src); err == nil {
		if b, err := os.Stat(dst); err == nil && os.SameFile(a, b) {
			return nil
		}
	}
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	return writeAtomic(dst, f, 0o755)
}

func writeAtomic(dst string, r io.Reader, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, r); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// installLink makes link a symbolic link to target, replacing a link
// that is there but never a file.
func installLink(target, link string) error {
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return err
	}
	if fi, err := os.Lstat(link); err == nil {
		if fi.Mode()&os.ModeSymlink == 0 {
			return errors.New("exists and is not a symbolic link; remove it first")
		}
		if err := os.Remove(link); err != nil {
			return err
		}
	}
	return os.Symlink(target, link)
}
