package vm

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/l2fabric/l2fabric/frames"
)

// Defaults for what a definition leaves out.
const (
	// DefaultCPUs is the number of virtual CPUs of a VM with no cpus=.
	DefaultCPUs = 2
	// DefaultMemory is the memory of a VM with no memory=: 1 GiB.
	DefaultMemory = 1 << 30
	// DefaultCmdline is the kernel command line of a VM with no cmdline=:
	// the console on the virtio console l2fabric gives every VM.
	DefaultCmdline = "console=hvc0"
	// DefaultConsole is the console log's file name, in the VM's
	// directory, for a VM with no console=.
	DefaultConsole = "console.log"
	// TableFile is the name of the definition file in a VM's directory:
	// a VM table in TOML (see ParseTableFile).
	TableFile = "vm.toml"
	// ConfigFile is the name of the definition file in the KEY=VALUE
	// format of earlier versions (see ParseConfig), read when there is no
	// TableFile; 'l2fabric vm convert' rewrites it as one.
	ConfigFile = "vm.conf"
	// NoConsole is the console= value that disables the console log.
	NoConsole = "none"
)

// Limits checked by Validate. Virtualization.framework has its own
// (queried at boot), which may be tighter.
const (
	// MinNICMTU and MaxNICMTU bound a NIC's MTU, as
	// VZFileHandleNetworkDeviceAttachment accepts it (macOS 13 and later
	// for anything above 1500).
	MinNICMTU, MaxNICMTU = 1500, 65535
	// MaxCPUs bounds cpus=.
	MaxCPUs = 256
	// MaxNICs bounds the number of NICs of one VM.
	MaxNICs = 64
	// MiB is a mebibyte: memory must be a whole number of them.
	MiB = 1 << 20
)

// Restart says when l2fabric boots a VM again after it stopped by itself.
type Restart string

// Restart policies.
const (
	// RestartNo leaves a stopped VM stopped, its ports down.
	RestartNo Restart = "no"
	// RestartOnFailure boots the VM again when it failed (entered the
	// error state, or failed to start), not when the guest powered off.
	RestartOnFailure Restart = "on-failure"
	// RestartAlways boots the VM again whenever it stops, except when
	// l2fabric stops it. A guest reboot stops a Virtualization.framework
	// VM, so this is what makes "reboot" work.
	RestartAlways Restart = "always"
)

// Disk is a raw disk image attached as a virtio block device.
type Disk struct {
	// Path is the image's absolute path.
	Path string `json:"path"`
	// ReadOnly attaches it read-only.
	ReadOnly bool `json:"read_only,omitempty"`
}

// NIC is a virtio network device, attached to the fabric as a port.
type NIC struct {
	// MAC is the guest's address on this NIC, never zero in a loaded
	// definition.
	MAC frames.MAC
	// MTU is the largest payload the NIC sends and receives, 1500 to
	// 65535.
	MTU int
}

// Definition is a VM as l2fabric boots it: what vm.conf or --vm says, with
// defaults applied, paths made absolute and MACs derived.
type Definition struct {
	// Name is the VM's name: its directory's name, the device's name and
	// the prefix of its ports' names.
	Name string
	// Dir is the directory holding vm.conf, "" for an inline definition.
	Dir string
	// Source says where the definition came from, for errors: the
	// vm.conf path or "--vm NAME".
	Source string
	// Kernel is the absolute path of the Linux kernel.
	Kernel string
	// Initrd is the absolute path of the initial RAM disk, or "".
	Initrd string
	// Cmdline is the kernel command line.
	Cmdline string
	// CPUs is the number of virtual CPUs.
	CPUs int
	// Memory is the memory size in bytes.
	Memory uint64
	// Disks are the disk images, in order.
	Disks []Disk
	// Console is the absolute path of the file the serial console is
	// appended to, or "" for none.
	Console string
	// NICs are the network devices, in order; there is at least one.
	NICs []NIC
	// Restart is the restart policy.
	Restart Restart
}

// ValidName reports why name cannot be a VM name, or nil: 1 to 64
// letters, digits, '-', '_' and '.', starting with a letter or digit.
func ValidName(name string) error {
	if name == "" {
		return errors.New("empty VM name")
	}
	if len(name) > 64 {
		return fmt.Errorf("VM name %q is longer than 64 characters", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if i == 0 && !alnum {
			return fmt.Errorf("VM name %q must start with a letter or digit", name)
		}
		if !alnum && c != '-' && c != '_' && c != '.' {
			return fmt.Errorf("VM name %q may contain only letters, digits, '-', '_' and '.'", name)
		}
	}
	return nil
}

// DeriveMAC returns the MAC of a VM's NIC that has none configured: 02
// (locally administered, unicast) followed by five bytes of the SHA-256 of
// the VM's name and the NIC's index. It never changes for a given name and
// index, so the guest keeps its address (and its DHCP leases) across
// restarts. Two hosts running a VM of the same name on one network must
// set their MACs explicitly.
func DeriveMAC(vmName string, index int) frames.MAC {
	h := sha256.Sum256([]byte("l2fabric vm nic\x00" + vmName + "\x00" + strconv.Itoa(index)))
	return frames.MAC{0x02, h[0], h[1], h[2], h[3], h[4]}
}

// ParseSize parses a size with a unit: K, M, G or T, optionally followed
// by "i", "iB" or "B", in either case, all binary (1G = 1 GiB). The
// number may have a fraction (1.5G) as long as the result is a whole
// number of bytes. A bare number is refused: "memory=1024" is too easily
// meant as MiB and read as bytes, or the reverse.
func ParseSize(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(t[i:])
	if num == "" || strings.Count(num, ".") > 1 || num[0] == '.' || num[len(num)-1] == '.' {
		return 0, fmt.Errorf("size %q is not a number with a unit, e.g. 512M or 2G", s)
	}
	unit = strings.TrimSuffix(strings.TrimSuffix(unit, "b"), "i")
	var shift uint
	switch unit {
	case "k":
		shift = 10
	case "m":
		shift = 20
	case "g":
		shift = 30
	case "t":
		shift = 40
	case "":
		return 0, fmt.Errorf("size %q has no unit: write e.g. %sM or %sG", s, num, num)
	default:
		return 0, fmt.Errorf("size %q has an unknown unit (want K, M, G or T, e.g. 512M or 2G)", s)
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("size %q is not a number with a unit", s)
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Lsh(big.NewInt(1), shift)))
	if !r.IsInt() {
		return 0, fmt.Errorf("size %q is not a whole number of bytes", s)
	}
	n := r.Num()
	if !n.IsUint64() {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n.Uint64(), nil
}

// FormatSize formats n as ParseSize reads it, in the largest unit that
// divides it: 1G, 1536M.
func FormatSize(n uint64) string {
	for _, u := range []struct {
		shift uint
		name  string
	}{{40, "T"}, {30, "G"}, {20, "M"}, {10, "K"}} {
		if n != 0 && n%(1<<u.shift) == 0 {
			return strconv.FormatUint(n>>u.shift, 10) + u.name
		}
	}
	return strconv.FormatUint(n, 10) + "B"
}

// builder collects a definition's settings in the order given, from a
// vm.conf or an inline spec, and applies defaults at the end.
type builder struct {
	name, base, source string
	single             map[string]string // kernel, initrd, ... as written
	disks              []Disk
	nics               []nicSetting
	nicsMin            int
	defaultMTU         int
}

type nicSetting struct {
	mac frames.MAC
	mtu int
}

// singleKeys may be given once; multiKeys any number of times.
var (
	singleKeys = []string{"kernel", "initrd", "cmdline", "cpus", "memory", "console", "restart", "mtu", "nics"}
	multiKeys  = []string{"disk", "disk-ro", "nic", "mac"}
)

func newBuilder(name, base, source string) *builder {
	return &builder{name: name, base: base, source: source, single: map[string]string{}}
}

// set records key=value. It checks the syntax of the value; files and
// cross-checks are for Validate.
func (b *builder) set(key, value string) error {
	if strings.ContainsAny(value, "\n\r\x00") {
		return fmt.Errorf("%s: the value contains a line break or NUL", key)
	}
	switch key {
	case "disk", "disk-ro":
		if value == "" {
			return errors.New("empty disk path")
		}
		b.disks = append(b.disks, Disk{Path: b.path(value), ReadOnly: key == "disk-ro"})
		return nil
	case "nic":
		n, err := parseNIC(value)
		if err != nil {
			return err
		}
		b.nics = append(b.nics, n)
		return nil
	case "mac":
		m, err := parseMAC(value)
		if err != nil {
			return err
		}
		b.nics = append(b.nics, nicSetting{mac: m})
		return nil
	}
	if !contains(singleKeys, key) {
		return fmt.Errorf("unknown key %q (keys: %s)", key, strings.Join(append(append([]string{}, singleKeys...), multiKeys...), ", "))
	}
	if _, dup := b.single[key]; dup {
		return fmt.Errorf("%s given twice", key)
	}
	switch key {
	case "cpus":
		n, err := strconv.Atoi(value)
		if err != nil {
			return fmt.Errorf("cpus %q is not a number", value)
		}
		if n < 1 || n > MaxCPUs {
			return fmt.Errorf("cpus must be 1 to %d, not %d", MaxCPUs, n)
		}
	case "memory":
		n, err := ParseSize(value)
		if err != nil {
			return err
		}
		if n == 0 || n%MiB != 0 {
			return fmt.Errorf("memory %q must be a positive whole number of MiB", value)
		}
	case "restart":
		switch Restart(value) {
		case RestartNo, RestartOnFailure, RestartAlways:
		default:
			return fmt.Errorf("restart %q: want no, on-failure or always", value)
		}
	case "mtu":
		n, err := parseMTU(value)
		if err != nil {
			return err
		}
		b.defaultMTU = n
	case "nics":
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 || n > MaxNICs {
			return fmt.Errorf("nics %q: want a number of NICs from 1 to %d", value, MaxNICs)
		}
		b.nicsMin = n
	case "kernel":
		if value == "" {
			return errors.New("empty kernel path")
		}
	}
	b.single[key] = value
	return nil
}

// parseNIC parses a nic= value: [mac=MAC][,mtu=N].
func parseNIC(v string) (nicSetting, error) {
	var n nicSetting
	if strings.TrimSpace(v) == "" {
		return n, nil
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return n, fmt.Errorf("nic %q: %q is not KEY=VALUE (want nic=mac=MAC,mtu=N)", v, part)
		}
		if seen[k] {
			return n, fmt.Errorf("nic %q: %s given twice", v, k)
		}
		seen[k] = true
		var err error
		switch k {
		case "mac":
			n.mac, err = parseMAC(val)
		case "mtu":
			n.mtu, err = parseMTU(val)
		default:
			err = fmt.Errorf("unknown NIC option %q (want mac= and mtu=)", k)
		}
		if err != nil {
			return n, fmt.Errorf("nic %q: %w", v, err)
		}
	}
	return n, nil
}

func parseMAC(v string) (frames.MAC, error) {
	m, err := frames.ParseMAC(v)
	if err != nil {
		return m, err
	}
	if !m.IsUnicast() {
		return m, fmt.Errorf("mac %s is not a unicast address", m)
	}
	return m, nil
}

func parseMTU(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < MinNICMTU || n > MaxNICMTU {
		return 0, fmt.Errorf("mtu %q: want a number from %d to %d", v, MinNICMTU, MaxNICMTU)
	}
	return n, nil
}

// path resolves p against the builder's base directory.
func (b *builder) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	if strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[2:])
		}
	}
	return filepath.Join(b.base, p)
}

// definition applies defaults and returns the definition. consoleDir is
// where the default console log goes.
func (b *builder) definition(consoleDir string) (*Definition, error) {
	d := &Definition{
		Name: b.name, Source: b.source,
		Kernel: b.path(b.single["kernel"]), Initrd: b.path(b.single["initrd"]),
		Cmdline: DefaultCmdline, CPUs: DefaultCPUs, Memory: DefaultMemory,
		Disks: b.disks, Restart: RestartNo,
	}
	if d.Kernel == "" {
		return nil, errors.New("no kernel= (the path of a Linux kernel is required)")
	}
	if v, ok := b.single["cmdline"]; ok {
		d.Cmdline = v
	}
	if v, ok := b.single["cpus"]; ok {
		d.CPUs, _ = strconv.Atoi(v)
	}
	if v, ok := b.single["memory"]; ok {
		d.Memory, _ = ParseSize(v)
	}
	if v, ok := b.single["restart"]; ok {
		d.Restart = Restart(v)
	}
	switch v, ok := b.single["console"]; {
	case !ok:
		d.Console = filepath.Join(consoleDir, DefaultConsole)
	case v == NoConsole || v == "":
		d.Console = ""
	default:
		d.Console = b.path(v)
	}
	mtu := b.defaultMTU
	if mtu == 0 {
		mtu = MinNICMTU
	}
	count := max(len(b.nics), b.nicsMin, 1)
	if count > MaxNICs {
		return nil, fmt.Errorf("%d NICs: at most %d", count, MaxNICs)
	}
	for i := 0; i < count; i++ {
		n := NIC{MAC: DeriveMAC(b.name, i), MTU: mtu}
		if i < len(b.nics) {
			if !b.nics[i].mac.IsZero() {
				n.MAC = b.nics[i].mac
			}
			if b.nics[i].mtu != 0 {
				n.MTU = b.nics[i].mtu
			}
		}
		d.NICs = append(d.NICs, n)
	}
	for i, n := range d.NICs {
		for j := 0; j < i; j++ {
			if d.NICs[j].MAC == n.MAC {
				return nil, fmt.Errorf("NICs %d and %d have the same MAC %s", j, i, n.MAC)
			}
		}
	}
	return d, nil
}

// ParseConfig parses a vm.conf read from r for the VM name whose
// directory is dir (relative paths resolve against it). It checks syntax
// and values, not files: see Validate.
func ParseConfig(r io.Reader, name, dir string) (*Definition, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	source := filepath.Join(dir, ConfigFile)
	b := newBuilder(name, dir, source)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		key, value, ok := strings.Cut(text, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: %q is not KEY=VALUE", source, line, text)
		}
		key = strings.TrimSpace(key)
		value, err := unquoteLine(strings.TrimSpace(value))
		if err == nil {
			err = b.set(key, value)
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", source, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	d, err := b.definition(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", source, err)
	}
	d.Dir = dir
	return d, nil
}

// LoadDir reads the definition of VM name in dir: NAME/vm.toml, or
// where there is none NAME/vm.conf. An error wraps os.ErrNotExist when
// there is neither.
func LoadDir(dir, name string) (*Definition, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	vmDir := filepath.Join(dir, name)
	data, err := os.ReadFile(filepath.Join(vmDir, TableFile))
	if err == nil {
		return ParseTableFile(data, name, vmDir)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	f, err := os.Open(filepath.Join(vmDir, ConfigFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseConfig(f, name, vmDir)
}

// IsLegacy reports whether d was read from a vm.conf, which 'l2fabric vm
// convert' rewrites as a vm.toml.
func (d *Definition) IsLegacy() bool {
	return d.Dir != "" && d.Source == filepath.Join(d.Dir, ConfigFile)
}

// unquoteLine returns a vm.conf value: as written, or the contents of a
// double-quoted string.
func unquoteLine(v string) (string, error) {
	if !strings.HasPrefix(v, `"`) {
		return v, nil
	}
	s, rest, err := unquote(v)
	if err != nil {
		return "", err
	}
	if rest != "" {
		return "", fmt.Errorf("text %q after the closing quote", rest)
	}
	return s, nil
}

// unquote reads a double-quoted string at the start of v (\" and \\ are
// the only escapes) and returns its contents and what follows it.
func unquote(v string) (s, rest string, err error) {
	var b strings.Builder
	for i := 1; i < len(v); i++ {
		switch c := v[i]; c {
		case '"':
			return b.String(), v[i+1:], nil
		case '\\':
			if i+1 < len(v) && (v[i+1] == '"' || v[i+1] == '\\') {
				b.WriteByte(v[i+1])
				i++
				continue
			}
			return "", "", fmt.Errorf(`a '\' in a quoted value must be followed by '"' or '\'`)
		default:
			b.WriteByte(c)
		}
	}
	return "", "", errors.New("unterminated quoted value")
}

// quote returns v double-quoted, with '"' and '\' escaped.
func quote(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(v) + `"`
}

// Validate checks what parsing cannot: that the kernel, initrd and disks
// exist, and on Apple Silicon that the kernel is not compressed.
func (d *Definition) Validate() error {
	return d.validate(runtime.GOOS, runtime.GOARCH)
}

func (d *Definition) validate(goos, goarch string) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("vm %s (%s): %s", d.Name, d.Source, fmt.Sprintf(format, args...))
	}
	if err := ValidName(d.Name); err != nil {
		return fail("%v", err)
	}
	if d.CPUs < 1 || d.CPUs > MaxCPUs {
		return fail("cpus must be 1 to %d, not %d", MaxCPUs, d.CPUs)
	}
	if d.Memory == 0 || d.Memory%MiB != 0 {
		return fail("memory must be a positive whole number of MiB, not %d bytes", d.Memory)
	}
	switch d.Restart {
	case RestartNo, RestartOnFailure, RestartAlways:
	default:
		return fail("restart %q: want no, on-failure or always", d.Restart)
	}
	if len(d.NICs) == 0 || len(d.NICs) > MaxNICs {
		return fail("%d NICs: want 1 to %d", len(d.NICs), MaxNICs)
	}
	for i, n := range d.NICs {
		if !n.MAC.IsUnicast() {
			return fail("NIC %d: mac %s is not a unicast address", i, n.MAC)
		}
		if n.MTU < MinNICMTU || n.MTU > MaxNICMTU {
			return fail("NIC %d: mtu %d is not from %d to %d", i, n.MTU, MinNICMTU, MaxNICMTU)
		}
		for j := 0; j < i; j++ {
			if d.NICs[j].MAC == n.MAC {
				return fail("NICs %d and %d have the same MAC %s", j, i, n.MAC)
			}
		}
	}
	if err := checkFile("kernel", d.Kernel); err != nil {
		return fail("%v", err)
	}
	if goos == "darwin" && goarch == "arm64" {
		if err := checkArm64Kernel(d.Kernel); err != nil {
			return fail("%v", err)
		}
	}
	if d.Initrd != "" {
		if err := checkFile("initrd", d.Initrd); err != nil {
			return fail("%v", err)
		}
	}
	for i, disk := range d.Disks {
		if err := checkFile(fmt.Sprintf("disk %d", i), disk.Path); err != nil {
			return fail("%v", err)
		}
	}
	return nil
}

func checkFile(what, path string) error {
	if path == "" {
		return fmt.Errorf("no %s path", what)
	}
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s %s does not exist", what, path)
		}
		return fmt.Errorf("%s: %v", what, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("%s %s is a directory, not a file", what, path)
	}
	return nil
}

// checkArm64Kernel refuses the compressed kernels Virtualization.framework
// cannot boot on Apple Silicon, which needs an uncompressed arm64 Image:
// a gzip'd Image (Debian's and Ubuntu's vmlinuz) or an EFI zboot image.
func checkArm64Kernel(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("kernel: %v", err)
	}
	defer f.Close()
	var hdr [64]byte
	n, _ := io.ReadFull(f, hdr[:])
	return kernelFormatError(path, hdr[:n])
}

// kernelFormatError inspects the start of a kernel file.
func kernelFormatError(path string, hdr []byte) error {
	switch {
	case len(hdr) >= 2 && hdr[0] == 0x1f && hdr[1] == 0x8b:
		return fmt.Errorf("kernel %s is gzip-compressed: on Apple Silicon Virtualization.framework boots only an uncompressed arm64 Image (gunzip -c %s > Image)", path, path)
	case len(hdr) >= 8 && bytes.Equal(hdr[0:2], []byte("MZ")) && bytes.Equal(hdr[4:8], []byte("zimg")):
		return fmt.Errorf("kernel %s is an EFI zboot (compressed) image: on Apple Silicon Virtualization.framework boots only an uncompressed arm64 Image", path)
	case len(hdr) >= 60 && !bytes.Equal(hdr[56:60], []byte("ARM\x64")):
		return fmt.Errorf("kernel %s is not an arm64 Linux Image (no \"ARM\\x64\" magic at offset 56): on Apple Silicon Virtualization.framework boots only an uncompressed arm64 Image", path)
	case len(hdr) < 60:
		return fmt.Errorf("kernel %s is too short (%d bytes) to be a Linux kernel", path, len(hdr))
	}
	return nil
}

// Format returns the definition as a vm.conf: every setting explicit, the
// derived MACs written out so that they survive a rename. Paths inside
// dir are written relative to it.
func (d *Definition) Format(dir string) []byte {
	var b bytes.Buffer
	rel := func(p string) string {
		if dir != "" {
			if r, err := filepath.Rel(dir, p); err == nil && r != ".." && !strings.HasPrefix(r, "../") {
				return r
			}
		}
		return p
	}
	kv := func(k, v string) {
		if v == "" || strings.TrimSpace(v) != v || strings.HasPrefix(v, `"`) {
			v = quote(v)
		}
		fmt.Fprintf(&b, "%s=%s\n", k, v)
	}
	fmt.Fprintf(&b, "# l2fabric VM %s: attach it with --port vm:%s\n", d.Name, d.Name)
	kv("kernel", rel(d.Kernel))
	if d.Initrd != "" {
		kv("initrd", rel(d.Initrd))
	}
	kv("cmdline", d.Cmdline)
	kv("cpus", strconv.Itoa(d.CPUs))
	kv("memory", FormatSize(d.Memory))
	for _, disk := range d.Disks {
		k := "disk"
		if disk.ReadOnly {
			k = "disk-ro"
		}
		kv(k, rel(disk.Path))
	}
	if d.Console == "" {
		kv("console", NoConsole)
	} else {
		kv("console", rel(d.Console))
	}
	kv("restart", string(d.Restart))
	for _, n := range d.NICs {
		kv("nic", fmt.Sprintf("mac=%s,mtu=%d", n.MAC, n.MTU))
	}
	return b.Bytes()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
