//go:build linux

package qemuvm

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"strings"
)

// cpioWriter writes a "newc" (SVR4, no CRC) cpio archive, the format the
// Linux kernel unpacks as an initramfs.
type cpioWriter struct {
	w    *bufio.Writer
	n    int64
	ino  uint32
	dirs map[string]bool
	err  error
}

const (
	modeDir  = 0o040000
	modeReg  = 0o100000
	modeLink = 0o120000
	modeChr  = 0o020000
)

func newCPIOWriter(w io.Writer) *cpioWriter {
	return &cpioWriter{w: bufio.NewWriter(w), ino: 1, dirs: map[string]bool{"": true, ".": true, "/": true}}
}

func (c *cpioWriter) write(p []byte) {
	if c.err != nil {
		return
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
}

func (c *cpioWriter) pad() {
	if r := c.n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}

// entry writes one archive member. name is relative ("bin/sh").
func (c *cpioWriter) entry(name string, mode uint32, rmaj, rmin uint32, data []byte) {
	nlink := uint32(1)
	if mode&0o170000 == modeDir {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rmaj, rmin, len(name)+1, 0)
	c.ino++
	c.write([]byte(hdr))
	c.write([]byte(name))
	c.write([]byte{0})
	c.pad()
	c.write(data)
	c.pad()
}

// mkdirAll adds name and its missing parents as directories (0755).
func (c *cpioWriter) mkdirAll(name string) {
	name = strings.Trim(path.Clean("/"+name), "/")
	if c.dirs[name] {
		return
	}
	c.mkdirAll(path.Dir(name))
	c.dirs[name] = true
	c.entry(name, modeDir|0o755, 0, 0, nil)
}

// file adds a regular file, creating its parent directories.
func (c *cpioWriter) file(name string, perm uint32, data []byte) {
	name = strings.Trim(path.Clean("/"+name), "/")
	c.mkdirAll(path.Dir(name))
	c.entry(name, modeReg|perm, 0, 0, data)
}

// symlink adds name -> target, creating name's parent directories.
func (c *cpioWriter) symlink(name, target string) {
	name = strings.Trim(path.Clean("/"+name), "/")
	c.mkdirAll(path.Dir(name))
	c.entry(name, modeLink|0o777, 0, 0, []byte(target))
}

// chardev adds a character device node.
func (c *cpioWriter) chardev(name string, perm, major, minor uint32) {
	name = strings.Trim(path.Clean("/"+name), "/")
	c.mkdirAll(path.Dir(name))
	c.entry(name, modeChr|perm, major, minor, nil)
}

// close writes the trailer and flushes.
func (c *cpioWriter) close() error {
	c.entry("TRAILER!!!", 0, 0, 0, nil)
	if c.err == nil {
		c.err = c.w.Flush()
	}
	return c.err
}
