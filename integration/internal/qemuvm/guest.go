//go:build linux

package qemuvm

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DebugEnv names an environment variable that, when non-empty, drops
// "quiet" from the guest kernel's command line so that the console log has
// all boot messages. /init still silences the kernel once ready.
const DebugEnv = "L2FABRIC_GUEST_DEBUG"

// DefaultMemory is the guest RAM size when [Config.Memory] is empty.
const DefaultMemory = "128M"

// DefaultBootTimeout bounds [Start] when [Config.BootTimeout] is zero. A
// guest boots in about 2-3 s under TCG on an idle core; the margin is for
// several guests booting at once on a loaded 2-core CI machine.
const DefaultBootTimeout = 90 * time.Second

// Config describes one guest.
type Config struct {
	// Name names the guest in logs and errors; its letters, digits and
	// dashes also become the guest's hostname.
	Name string
	// MAC is the guest NIC's MAC address, e.g. 52:54:00:12:34:01.
	MAC string
	// IP, if set, is the address put on eth0 in CIDR form, e.g.
	// 198.18.0.1/24. Tests use 198.18.0.0/15 (RFC 2544).
	IP string
	// LocalPath is the unix datagram socket qemu binds (-netdev dgram
	// local.path); frames sent to it reach the guest. It must not exist
	// yet; Close removes it.
	LocalPath string
	// RemotePath is the unix datagram socket qemu sends the guest's frames
	// to (remote.path): the switch's socket.
	RemotePath string
	// Netdev, if set, replaces the dgram backend: qemu's -netdev value
	// without its id, e.g. "stream,server=off,addr.type=unix,addr.path=P"
	// or "socket,fd=3". LocalPath and RemotePath are then unused.
	Netdev string
	// ExtraFiles are inherited by qemu as file descriptors 3, 4...
	// (for Netdev "socket,fd=3").
	ExtraFiles []*os.File
	// Memory is the guest RAM in qemu's -m syntax; "" means [DefaultMemory].
	Memory string

	// BootTimeout bounds how long Start waits for the guest to be ready
	// (the context's deadline also applies); 0 means [DefaultBootTimeout].
	BootTimeout time.Duration
	// Machine is the qemu machine type: "pc" (the default) or "q35", with
	// virtio-net-pci, or "microvm", with virtio-net-device. microvm boots
	// about 0.2 s faster but has no HPET or ACPI PM timer, so under TCG on
	// a loaded host the kernel sometimes cannot calibrate its TSC and hangs
	// early in boot; pc falls back to the HPET.
	Machine string
	// Accel is "kvm" or "tcg"; "" picks kvm when [KVMUsable], else tcg.
	Accel string
	// IPv6 leaves IPv6 enabled on the guest. It is off by default so that
	// a guest sends no frame (router solicitations, MLD, DAD) that the test
	// did not cause.
	IPv6 bool
}

// Guest is a running qemu guest. Its methods are safe for concurrent use;
// Run calls are serialized.
type Guest struct {
	cfg     Config
	accel   string
	args    []string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	con     *console
	stderr  *lockedBuffer
	exited  chan struct{} // closed when qemu has exited and stdout is drained
	waitErr error         // set before exited is closed

	boot     time.Duration
	runMu    sync.Mutex
	writeMu  sync.Mutex
	seq      int
	idPrefix string

	closeOnce sync.Once
	closeErr  error
	closing   chan struct{}
}

// ErrClosed is returned by Run after Close, or after qemu exited.
var ErrClosed = errors.New("qemuvm: guest is not running")

var (
	readyRE = regexp.MustCompile(`@@L2F-READY mac=([0-9a-fA-F:]*) ip=(\S*)@@`)
	failRE  = regexp.MustCompile(`@@L2F-FAIL ([^@]*)@@`)
)

// maxSunPath is the longest unix socket path the kernel accepts.
const maxSunPath = 107

// Start boots a guest from a.Kernel and initramfs (made by
// [BuildInitramfs]) and waits until its shell is ready: the NIC modules
// loaded, lo and eth0 up, eth0 with cfg.MAC and cfg.IP. It gives up after
// cfg.BootTimeout or when ctx ends; its errors carry the tail of the
// console log. ctx bounds only the boot: the guest runs until Close.
func Start(ctx context.Context, a Assets, initramfs string, cfg Config) (*Guest, error) {
	if a.QEMU == "" || a.Kernel == "" {
		return nil, fmt.Errorf("%w: Assets has no qemu or kernel; %s", ErrAssetsMissing, SetupHint)
	}
	hw, err := net.ParseMAC(cfg.MAC)
	if err != nil || len(hw) != 6 {
		return nil, fmt.Errorf("qemuvm: guest %q: bad MAC %q", cfg.Name, cfg.MAC)
	}
	cfg.MAC = hw.String()
	if cfg.IP != "" {
		if _, _, err := net.ParseCIDR(cfg.IP); err != nil {
			return nil, fmt.Errorf("qemuvm: guest %q: IP must be CIDR (198.18.0.1/24): %w", cfg.Name, err)
		}
	}
	paths := []struct{ what, path string }{{"LocalPath", cfg.LocalPath}, {"RemotePath", cfg.RemotePath}}
	if cfg.Netdev != "" {
		paths = nil
	}
	for _, p := range paths {
		if p.path == "" {
			return nil, fmt.Errorf("qemuvm: guest %q: %s is empty", cfg.Name, p.what)
		}
		if len(p.path) > maxSunPath {
			return nil, fmt.Errorf("qemuvm: guest %q: %s %q is longer than %d bytes, the unix socket limit", cfg.Name, p.what, p.path, maxSunPath)
		}
		if strings.ContainsAny(p.path, ",") {
			return nil, fmt.Errorf("qemuvm: guest %q: %s %q has a comma, which qemu's option syntax cannot take", cfg.Name, p.what, p.path)
		}
	}
	if cfg.Netdev == "" { // with another netdev qemu binds no socket of its own
		if _, err := os.Lstat(cfg.LocalPath); err == nil {
			return nil, fmt.Errorf("qemuvm: guest %q: LocalPath %s already exists (a stale socket?); qemu must bind it itself", cfg.Name, cfg.LocalPath)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("qemuvm: guest %q: %w", cfg.Name, err)
		}
	}
	if cfg.Memory == "" {
		cfg.Memory = DefaultMemory
	}
	if cfg.BootTimeout == 0 {
		cfg.BootTimeout = DefaultBootTimeout
	}
	if cfg.Machine == "" {
		cfg.Machine = "pc"
	}
	accel := cfg.Accel
	if accel == "" {
		accel = "tcg"
		if KVMUsable() {
			accel = "kvm"
		}
	}

	g := &Guest{
		cfg:      cfg,
		accel:    accel,
		con:      newConsole(),
		stderr:   &lockedBuffer{},
		exited:   make(chan struct{}),
		closing:  make(chan struct{}),
		idPrefix: randHex(4),
	}
	g.args = qemuArgs(a, initramfs, cfg, accel)
	g.cmd = exec.Command(a.QEMU, g.args...)
	g.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	g.cmd.Stderr = g.stderr
	g.cmd.ExtraFiles = cfg.ExtraFiles
	g.stdin, err = g.cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("qemuvm: %w", err)
	}
	stdout, err := g.cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("qemuvm: %w", err)
	}
	t0 := time.Now()
	if err := g.cmd.Start(); err != nil {
		return nil, fmt.Errorf("qemuvm: start %s: %w", a.QEMU, err)
	}
	go func() {
		g.con.readFrom(stdout)
		g.waitErr = g.cmd.Wait()
		close(g.exited)
	}()

	bctx, cancel := context.WithTimeout(ctx, cfg.BootTimeout)
	defer cancel()
	var ready, fail []string
	err = g.con.waitFor(bctx, g.exited, 0, func(b []byte) bool {
		if m := readyRE.FindSubmatch(b); m != nil {
			ready = []string{string(m[1]), string(m[2])}
			return true
		}
		if m := failRE.FindSubmatch(b); m != nil {
			fail = []string{string(m[1])}
			return true
		}
		return false
	})
	switch {
	case err == nil && fail != nil:
		err = fmt.Errorf("guest /init failed: %s", fail[0])
	case err == nil && !strings.EqualFold(ready[0], cfg.MAC):
		err = fmt.Errorf("eth0 has MAC %s, want %s", ready[0], cfg.MAC)
	case err == nil && ready[1] != cfg.IP:
		err = fmt.Errorf("eth0 has IP %q, want %q", ready[1], cfg.IP)
	case errors.Is(err, ErrClosed):
		status := "exit status 0"
		if g.waitErr != nil {
			status = g.waitErr.Error()
		}
		err = fmt.Errorf("qemu exited during boot (%s): the guest panicked, powered off or could not start", status)
	case err != nil && bctx.Err() != nil && ctx.Err() == nil:
		err = fmt.Errorf("not ready after %v", cfg.BootTimeout)
	}
	if err != nil {
		g.Close()
		hint := ""
		if os.Getenv(DebugEnv) == "" {
			hint = fmt.Sprintf(" (set %s=1 to see the kernel's boot messages)", DebugEnv)
		}
		return nil, fmt.Errorf("qemuvm: guest %q (accel %s, -M %s) did not boot: %w%s\n%s", cfg.Name, accel, cfg.Machine, err, hint, g.tail())
	}
	g.boot = time.Since(t0)
	return g, nil
}

// qemuArgs builds qemu's command line.
func qemuArgs(a Assets, initramfs string, cfg Config, accel string) []string {
	appendLine := []string{"console=ttyS0", "panic=-1", "l2f.name=" + hostname(cfg.Name)}
	if os.Getenv(DebugEnv) == "" {
		appendLine = append(appendLine, "quiet")
	} else {
		appendLine = append(appendLine, "loglevel=7")
	}
	if cfg.IP != "" {
		appendLine = append(appendLine, "l2f.ip="+cfg.IP)
	}
	if cfg.IPv6 {
		appendLine = append(appendLine, "l2f.ipv6=1")
	}
	netdev := "dgram,id=n0,local.type=unix,local.path=" + cfg.LocalPath + ",remote.type=unix,remote.path=" + cfg.RemotePath
	if cfg.Netdev != "" {
		typ, opts, _ := strings.Cut(cfg.Netdev, ",")
		netdev = typ + ",id=n0," + opts
	}
	machine, nic := cfg.Machine, "virtio-net-pci,romfile="
	if machine == "microvm" {
		nic = "virtio-net-device"
	}
	args := []string{
		"-M", machine,
		"-accel", accel,
		"-m", cfg.Memory,
		"-smp", "1",
		"-nodefaults", "-no-user-config",
		"-display", "none",
		"-no-reboot",
		"-chardev", "stdio,id=con,signal=off",
		"-serial", "chardev:con",
		"-kernel", a.Kernel,
		"-initrd", initramfs,
		"-append", strings.Join(appendLine, " "),
		"-netdev", netdev,
		"-device", nic + ",netdev=n0,mac=" + cfg.MAC,
	}
	return args
}

// hostname keeps the letters, digits and dashes of name.
func hostname(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-':
			b.WriteRune(r)
		case r == '_' || r == ' ' || r == '.' || r == '/':
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), "-")
	if len(s) > 63 {
		s = s[:63]
	}
	if s == "" {
		s = "guest"
	}
	return s
}

// Run runs cmd with /bin/sh in the guest, its stdin /dev/null, and returns
// what it wrote to stdout and stderr together, and its exit status. err is
// set only when the status could not be had: ctx ended, or the guest is not
// running. A command that outlives ctx keeps running in the guest and
// delays later Run calls until it ends; start long-lived programs in the
// background (`iperf3 -s -D`, `cmd >/tmp/log 2>&1 &`). The working
// directory and variables do not carry over between calls.
func (g *Guest) Run(ctx context.Context, cmd string) (output string, exitCode int, err error) {
	g.runMu.Lock()
	defer g.runMu.Unlock()
	select {
	case <-g.closing:
		return "", -1, ErrClosed
	case <-g.exited:
		return "", -1, ErrClosed
	default:
	}
	g.seq++
	id := fmt.Sprintf("%s-%d", g.idPrefix, g.seq)
	begin := []byte("@@L2F-BEGIN " + id + "@@\n")
	end := []byte("\n@@L2F-END " + id + " ")
	from := g.con.len()
	if err := g.send(ctx, id, cmd); err != nil {
		return "", -1, fmt.Errorf("qemuvm: guest %q: send command: %w", g.cfg.Name, err)
	}
	var out string
	code := -1
	werr := g.con.waitFor(ctx, g.exited, from, func(b []byte) bool {
		i := bytes.Index(b, begin)
		if i < 0 {
			return false
		}
		rest := b[i+len(begin):]
		j := bytes.Index(rest, end)
		if j < 0 {
			return false
		}
		tail := rest[j+len(end):]
		k := bytes.Index(tail, []byte("@@"))
		if k < 0 {
			return false
		}
		n, err := strconv.Atoi(string(tail[:k]))
		if err != nil {
			return false
		}
		out, code = string(rest[:j]), n
		return true
	})
	if werr != nil {
		if errors.Is(werr, ErrClosed) {
			return "", -1, fmt.Errorf("qemuvm: guest %q: exited while running %q: %w", g.cfg.Name, cmd, ErrClosed)
		}
		return "", -1, fmt.Errorf("qemuvm: guest %q: running %q: %w", g.cfg.Name, cmd, werr)
	}
	return out, code, nil
}

// send writes one request line, "L2F <id> <base64 script>".
func (g *Guest) send(ctx context.Context, id, script string) error {
	line := "L2F " + id + " " + base64.StdEncoding.EncodeToString([]byte(script)) + "\n"
	done := make(chan error, 1)
	go func() {
		g.writeMu.Lock()
		defer g.writeMu.Unlock()
		_, err := io.WriteString(g.stdin, line)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-g.exited:
		return ErrClosed
	}
}

// ConsoleLog returns everything the guest's serial console printed so far
// (kernel messages, /init's messages, and the command protocol), followed by
// what qemu itself wrote to stderr, if anything.
func (g *Guest) ConsoleLog() string {
	s := string(g.con.bytes())
	if e := g.stderr.String(); e != "" {
		s += "\n--- qemu stderr ---\n" + e
	}
	return s
}

// tail is the end of the console log, for error messages.
func (g *Guest) tail() string {
	const max = 4000
	s := g.ConsoleLog()
	if len(s) > max {
		s = "..." + s[len(s)-max:]
	}
	return "--- console log of " + g.cfg.Name + " (tail) ---\n" + s + "\n--- end of console log ---"
}

// Name returns the guest's Config.Name.
func (g *Guest) Name() string { return g.cfg.Name }

// Config returns the guest's configuration, defaults filled in.
func (g *Guest) Config() Config { return g.cfg }

// Accel returns the accelerator qemu was started with, "kvm" or "tcg".
func (g *Guest) Accel() string { return g.accel }

// BootDuration returns how long Start took from starting qemu until the
// guest reported ready.
func (g *Guest) BootDuration() time.Duration { return g.boot }

// QEMUArgs returns qemu's arguments, for logs.
func (g *Guest) QEMUArgs() []string { return append([]string(nil), g.args...) }

// Close stops the guest: it asks it to `poweroff -f` over the console, kills
// qemu if it has not exited within a few seconds, and removes LocalPath (the
// socket qemu bound; Start made sure it did not exist before). It removes
// nothing else. It is safe to call more than once; later calls return the
// first call's result.
func (g *Guest) Close() error {
	g.closeOnce.Do(func() {
		close(g.closing)
		select {
		case <-g.exited:
		default:
			// The request line is only read once a running command
			// ends; the timeout below covers that case.
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = g.send(ctx, g.idPrefix+"-poweroff", "poweroff -f")
			cancel()
			select {
			case <-g.exited:
			case <-time.After(3 * time.Second):
				if err := g.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
					g.closeErr = fmt.Errorf("qemuvm: kill qemu of guest %q: %w", g.cfg.Name, err)
				}
				<-g.exited
			}
		}
		g.stdin.Close()
		if err := os.Remove(g.cfg.LocalPath); err != nil && !errors.Is(err, fs.ErrNotExist) && g.closeErr == nil {
			g.closeErr = fmt.Errorf("qemuvm: %w", err)
		}
	})
	return g.closeErr
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return strconv.FormatInt(time.Now().UnixNano(), 16)
	}
	return hex.EncodeToString(b)
}

// console accumulates a guest's serial output and wakes waiters on change.
type console struct {
	mu     sync.Mutex
	buf    []byte
	notify chan struct{} // closed and replaced on every append
}

func newConsole() *console { return &console{notify: make(chan struct{})} }

func (c *console) readFrom(r io.Reader) {
	p := make([]byte, 32*1024)
	for {
		n, err := r.Read(p)
		if n > 0 {
			c.mu.Lock()
			c.buf = append(c.buf, p[:n]...)
			close(c.notify)
			c.notify = make(chan struct{})
			c.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

func (c *console) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.buf)
}

func (c *console) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.buf...)
}

// waitFor calls match on the output from offset from on until it returns
// true. It returns ctx's error, or ErrClosed once exited is closed and
// match still fails.
func (c *console) waitFor(ctx context.Context, exited <-chan struct{}, from int, match func([]byte) bool) error {
	for {
		c.mu.Lock()
		ok := match(c.buf[from:])
		ch := c.notify
		c.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			c.mu.Lock()
			ok := match(c.buf[from:])
			c.mu.Unlock()
			if ok {
				return nil
			}
			return ErrClosed
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for a writer and readers at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
