//go:build linux || darwin

package vm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/backends/dgram"
	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/internal/sockbuf"
)

// StopTimeout is how long l2fabric waits for a guest it asked to power off
// (when the VM is detached or the fabric stops) before stopping it hard.
const StopTimeout = 20 * time.Second

// Restart backoff: the first restart waits restartBackoffMin, each failed
// attempt doubles the wait up to restartBackoffMax, and a boot that ran
// for stableAfter starts again from the minimum.
const (
	restartBackoffMin = time.Second
	restartBackoffMax = time.Minute
	stableAfter       = time.Minute
	// forceStopTimeout bounds the wait for a VM stopped hard.
	forceStopTimeout = 5 * time.Second
)

// Socket buffer sizes of both ends of a NIC's socketpair, as vfkit sets
// them: Apple recommends a receive buffer at least twice, ideally four
// times, the send buffer.
const (
	sendBufferSize = 1 << 20
	recvBufferSize = 4 << 20
)

// ErrNeedCgo is the error of every vm: spec in a macOS build without cgo.
var ErrNeedCgo = errors.New("vm ports need l2fabric built with cgo on macOS (CGO_ENABLED=1)")

var forms = []string{"vm:NAME", "vm:NAME,nic=N"}

// machine is one boot of a VM: Virtualization.framework's VZVirtualMachine
// on macOS, a fake in tests.
type machine interface {
	// start boots the VM and returns once it runs, or why it could not.
	start() error
	// done is closed when the VM has stopped, by itself or when asked.
	done() <-chan struct{}
	// err is, once done is closed, nil when the guest powered off (or was
	// stopped) and the failure otherwise.
	err() error
	// requestStop asks the guest to power off.
	requestStop() error
	// stop stops the VM at once.
	stop() error
}

// hypervisor creates machines.
type hypervisor interface {
	// newMachine configures (without starting) a VM from def with its
	// NICs attached, in order, to the given socket ends.
	newMachine(def *Definition, nics []*os.File, log hclog.Logger) (machine, error)
}

// kindConfig is what a vm Kind is built from.
type kindConfig struct {
	catalog *Catalog
	hv      hypervisor
	// unavailable, when set, is the error of every spec.
	unavailable error
	// syntaxOnly makes Check look at the spec alone, not the VM's
	// definition, and Open fail: for clients that pass specs on to a
	// daemon whose definitions they cannot see.
	syntaxOnly bool

	stopTimeout, backoffMin, backoffMax, stableAfter time.Duration
}

// newKind returns the vm kind over kc. Each call keeps its own set of
// booted VMs, so each fabric needs its own.
func newKind(kc kindConfig) fabric.Kind {
	if kc.catalog == nil {
		kc.catalog = NewCatalog()
	}
	if kc.stopTimeout == 0 {
		kc.stopTimeout = StopTimeout
	}
	if kc.backoffMin == 0 {
		kc.backoffMin, kc.backoffMax = restartBackoffMin, restartBackoffMax
	}
	if kc.stableAfter == 0 {
		kc.stableAfter = stableAfter
	}
	r := &registry{kc: kc, vms: map[string]*vmDevice{}}
	return fabric.Kind{
		Name:    "vm",
		Summary: "a Linux VM l2fabric boots with Virtualization.framework (see 'l2fabric vm')",
		Forms:   forms,
		Keys:    []string{"nic"},
		Check:   r.check,
		Open:    r.open,
	}
}

// portSpec is the vm-specific part of a spec.
type portSpec struct {
	vm  string
	nic int // -1: the next NIC not attached
}

func parsePortSpec(s fabric.Spec) (portSpec, error) {
	o := portSpec{vm: s.Arg, nic: -1}
	fail := func(part, reason string) (portSpec, error) {
		return portSpec{}, &fabric.SpecError{Spec: s.Text, Part: part, Reason: reason, Hint: "forms: vm:NAME | vm:NAME,nic=N"}
	}
	if o.vm == "" {
		return fail("", "missing VM name")
	}
	if err := ValidName(o.vm); err != nil {
		return fail(o.vm, err.Error())
	}
	if v, ok := s.Get("nic"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n >= MaxNICs {
			return fail("nic="+v, fmt.Sprintf("nic must be a NIC index from 0 to %d", MaxNICs-1))
		}
		o.nic = n
	}
	return o, nil
}

// registry is the VMs a Kind has booted, by name.
type registry struct {
	kc  kindConfig
	mu  sync.Mutex
	vms map[string]*vmDevice
}

// lookup parses a spec and finds and validates its VM's definition.
func (r *registry) lookup(s fabric.Spec, cfg fabric.PortConfig) (portSpec, *Definition, error) {
	if r.kc.unavailable != nil {
		return portSpec{}, nil, r.kc.unavailable
	}
	o, err := parsePortSpec(s)
	if err != nil || r.kc.syntaxOnly {
		return o, nil, err
	}
	def, err := r.kc.catalog.Lookup(o.vm)
	if err != nil {
		return o, nil, err
	}
	if err := def.Validate(); err != nil {
		return o, nil, err
	}
	if o.nic >= len(def.NICs) {
		return o, nil, &fabric.SpecError{Spec: s.Text, Part: "nic=" + strconv.Itoa(o.nic),
			Reason: fmt.Sprintf("VM %s has %d NICs (0 to %d)", def.Name, len(def.NICs), len(def.NICs)-1),
			Hint:   "add nic= lines to " + def.Source}
	}
	if cfg.MTU != 0 && o.nic >= 0 && cfg.MTU > def.NICs[o.nic].MTU {
		return o, nil, &fabric.SpecError{Spec: s.Text, Part: "mtu=" + strconv.Itoa(cfg.MTU),
			Reason: fmt.Sprintf("larger than the MTU %d of NIC %d of VM %s", def.NICs[o.nic].MTU, o.nic, def.Name),
			Hint:   "set the NIC's mtu in " + def.Source}
	}
	return o, def, nil
}

func (r *registry) check(s fabric.Spec, cfg fabric.PortConfig) error {
	_, _, err := r.lookup(s, cfg)
	return err
}

// open opens one NIC of a VM as a port, booting the VM first if this is
// its first port. The first port's Open also returns the VM's device;
// later ones return the port alone (it belongs to the device all the
// same).
func (r *registry) open(ctx context.Context, s fabric.Spec, cfg fabric.PortConfig, a fabric.Attacher) (fabric.Opened, error) {
	if r.kc.syntaxOnly {
		return fabric.Opened{}, errors.New("internal error: this vm kind only checks specs")
	}
	o, def, err := r.lookup(s, cfg)
	if err != nil {
		return fabric.Opened{}, err
	}
	r.mu.Lock()
	d := r.vms[o.vm]
	created := d == nil
	if created {
		if d, err = newDevice(r, def, a.Logger()); err != nil {
			r.mu.Unlock()
			return fabric.Opened{}, err
		}
		r.vms[o.vm] = d
	}
	r.mu.Unlock()
	if created {
		if err := d.boot(ctx); err != nil {
			d.Close()
			return fabric.Opened{}, err
		}
	}
	op, err := d.open(o.nic, cfg, a)
	if err != nil {
		if created {
			d.Close()
		}
		return fabric.Opened{}, err
	}
	if created {
		op.Device = d
	}
	return op, nil
}

// remove forgets d, once it is closed.
func (r *registry) remove(d *vmDevice) {
	r.mu.Lock()
	if r.vms[d.def.Name] == d {
		delete(r.vms, d.def.Name)
	}
	r.mu.Unlock()
}

// nicSocket is one NIC's socketpair: the VM's end, handed to the
// hypervisor on every boot, and the fabric's end, of which each port
// attached to the NIC gets a duplicate (dgram.NewPort makes it). Both live
// as long as the device, so that neither end ever sees its peer gone.
type nicSocket struct {
	vm     *os.File
	fabric *os.File
}

func newNICSocket(vmName string, index int) (*nicSocket, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	if err != nil {
		return nil, fmt.Errorf("creating the socketpair of NIC %d: %w", index, err)
	}
	for _, fd := range fds {
		unix.CloseOnExec(fd)
		sockbuf.Set(fd, sendBufferSize, recvBufferSize)
	}
	return &nicSocket{
		fabric: os.NewFile(uintptr(fds[0]), fmt.Sprintf("NIC %d of VM %s", index, vmName)),
		vm:     os.NewFile(uintptr(fds[1]), fmt.Sprintf("vm-%s-nic%d", vmName, index)),
	}, nil
}

// drain discards the frames queued for the VM while no VM was reading
// them, so that a new boot does not start with stale traffic.
func (s *nicSocket) drain() {
	buf := make([]byte, fabric.MaxGSOFrame)
	fd := int(s.vm.Fd())
	for i := 0; i < 1<<16; i++ {
		n, _, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
		if err != nil && n <= 0 {
			return
		}
	}
}

func (s *nicSocket) close() {
	s.vm.Close()
	s.fabric.Close()
}

// vmDevice is one VM: its sockets, the machine currently booted, and the
// ports attached to its NICs. It is the fabric.Device named after the VM.
type vmDevice struct {
	r    *registry
	def  *Definition
	log  hclog.Logger
	nics []*nicSocket

	quit      chan struct{} // closed by Close: the supervisor stops the VM and returns
	supDone   chan struct{} // closed when the supervisor has returned
	closeOnce sync.Once

	mu      sync.Mutex
	claimed map[int]bool     // NICs with a port, or one being attached
	ports   map[int]*nicPort // NICs with a port
	up      bool             // the VM runs
	reason  string           // why the link is in its state
	state   string           // the VM's state, for Info
	boots   int
	closing bool
	// supervised is set once the first boot succeeded and the supervisor
	// runs.
	supervised bool
}

var (
	_ fabric.Device       = (*vmDevice)(nil)
	_ fabric.DeviceStater = (*vmDevice)(nil)
)

// newDevice creates a VM's device and the socketpairs of its NICs,
// without booting it.
func newDevice(r *registry, def *Definition, log hclog.Logger) (*vmDevice, error) {
	d := &vmDevice{
		r: r, def: def, log: log.Named("vm").With("vm", def.Name),
		quit: make(chan struct{}), supDone: make(chan struct{}),
		claimed: map[int]bool{}, ports: map[int]*nicPort{},
		state: "not started", reason: "vm not started",
	}
	for i := range def.NICs {
		s, err := newNICSocket(def.Name, i)
		if err != nil {
			for _, s := range d.nics {
				s.close()
			}
			return nil, err
		}
		d.nics = append(d.nics, s)
	}
	return d, nil
}

// Name is the VM's name.
func (d *vmDevice) Name() string { return d.def.Name }

// Info describes the VM and its state.
// State implements fabric.DeviceStater: the VM's state ("running",
// "stopped", "restarting"...).
func (d *vmDevice) State() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.state
}

func (d *vmDevice) Info() string {
	d.mu.Lock()
	state, boots := d.state, d.boots
	d.mu.Unlock()
	console := d.def.Console
	if console == "" {
		console = "none"
	}
	return fmt.Sprintf("vm %s: %s (boots: %d); %d cpus, %s, %d NICs, console %s",
		d.def.Name, state, boots, d.def.CPUs, FormatSize(d.def.Memory), len(d.def.NICs), console)
}

// boot boots the VM for the first time. A failure here fails the Open,
// whatever the restart policy: a VM that cannot start at all is a
// configuration error to report at once.
func (d *vmDevice) boot(ctx context.Context) error {
	d.setState("starting", false, "vm starting")
	m, err := d.start()
	if err != nil {
		d.setState("failed to start: "+err.Error(), false, "vm failed to start")
		return fmt.Errorf("starting VM %s: %w", d.def.Name, err)
	}
	d.mu.Lock()
	d.supervised = true
	d.mu.Unlock()
	go d.supervise(m)
	go func() {
		select {
		case <-ctx.Done():
			d.Close()
		case <-d.supDone:
		}
	}()
	return nil
}

// start configures and starts one boot of the VM.
func (d *vmDevice) start() (machine, error) {
	files := make([]*os.File, len(d.nics))
	for i, s := range d.nics {
		files[i] = s.vm
	}
	m, err := d.r.kc.hv.newMachine(d.def, files, d.log)
	if err != nil {
		return nil, err
	}
	if err := m.start(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.boots++
	boots := d.boots
	d.mu.Unlock()
	d.setState("running", true, "vm running")
	d.log.Info("vm running", "boot", boots, "console", d.def.Console)
	return m, nil
}

// supervise follows the running machine m until Close: when it stops by
// itself the ports go down and, as the restart policy says, the VM boots
// again after a backoff.
func (d *vmDevice) supervise(m machine) {
	defer close(d.supDone)
	backoff := d.r.kc.backoffMin
	for {
		started := time.Now()
		select {
		case <-d.quit:
			d.shutdown(m)
			return
		case <-m.done():
		}
		failure := m.err()
		restart := d.def.Restart == RestartAlways || d.def.Restart == RestartOnFailure && failure != nil
		if failure != nil {
			d.log.Error("vm failed", "error", failure, "restart", restart)
			d.setState("failed: "+failure.Error(), false, "vm failed")
		} else {
			d.log.Warn("vm stopped (the guest powered off or rebooted)", "restart", restart)
			d.setState("stopped", false, "vm stopped")
		}
		if !restart {
			<-d.quit
			return
		}
		if time.Since(started) >= d.r.kc.stableAfter {
			backoff = d.r.kc.backoffMin
		}
		m = nil
		for m == nil {
			d.setState(fmt.Sprintf("restarting in %v", backoff), false, "vm restarting")
			select {
			case <-d.quit:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, d.r.kc.backoffMax)
			for _, s := range d.nics {
				s.drain()
			}
			var err error
			if m, err = d.start(); err != nil {
				d.log.Error("vm failed to start", "error", err)
				d.setState("failed to start: "+err.Error(), false, "vm failed to start")
			}
		}
	}
}

// shutdown asks the guest to power off, waits up to the stop timeout,
// then stops the VM hard.
func (d *vmDevice) shutdown(m machine) {
	d.setState("stopping", false, "vm stopping")
	timeout := d.r.kc.stopTimeout
	if err := m.requestStop(); err != nil {
		d.log.Debug("asking the guest to power off", "error", err)
		timeout = 0
	}
	select {
	case <-m.done():
		d.log.Info("vm powered off")
		d.setState("stopped", false, "vm stopped")
		return
	case <-time.After(timeout):
	}
	if timeout > 0 {
		d.log.Warn("the guest did not power off: stopping the VM", "waited", timeout)
	}
	if err := m.stop(); err != nil {
		d.log.Error("stopping the VM", "error", err)
	}
	select {
	case <-m.done():
		d.setState("stopped", false, "vm stopped")
	case <-time.After(forceStopTimeout):
		d.log.Error("the VM did not stop", "waited", forceStopTimeout)
		d.setState("did not stop", false, "vm stopping")
	}
}

// setState records the VM's state and tells the ports when the link
// changes.
func (d *vmDevice) setState(state string, up bool, reason string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.state = state
	if up == d.up && reason == d.reason {
		return
	}
	d.up, d.reason = up, reason
	for _, p := range d.ports {
		p.send(fabric.LinkEvent{Up: up, Reason: reason})
	}
}

// Close stops the VM (asking the guest first), detaches its ports and
// closes its sockets. It returns when all that is done.
func (d *vmDevice) Close() error {
	d.closeOnce.Do(func() {
		d.mu.Lock()
		d.closing = true
		supervised := d.supervised
		d.mu.Unlock()
		close(d.quit)
		if supervised {
			<-d.supDone
		}
		d.mu.Lock()
		var ports []*nicPort
		for _, p := range d.ports {
			ports = append(ports, p)
		}
		d.mu.Unlock()
		for _, p := range ports {
			if err := p.attacher.Detach(p.name); err != nil {
				d.log.Debug("detaching port", "port", p.name, "error", err)
			}
		}
		for _, s := range d.nics {
			s.close()
		}
		d.r.remove(d)
		d.log.Info("vm closed")
	})
	return nil
}

// claim reserves NIC nic, or the first free NIC when nic < 0.
func (d *vmDevice) claim(nic int) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closing {
		return 0, fmt.Errorf("VM %s is shutting down", d.def.Name)
	}
	if nic >= len(d.def.NICs) {
		// The definition was edited since the VM booted.
		return 0, fmt.Errorf("VM %s was booted with %d NICs (0 to %d): detach and attach it to apply changes to %s",
			d.def.Name, len(d.def.NICs), len(d.def.NICs)-1, d.def.Source)
	}
	if nic >= 0 {
		if d.claimed[nic] {
			return 0, fmt.Errorf("NIC %d of VM %s is already attached", nic, d.def.Name)
		}
		d.claimed[nic] = true
		return nic, nil
	}
	for i := range d.def.NICs {
		if !d.claimed[i] {
			d.claimed[i] = true
			return i, nil
		}
	}
	return 0, fmt.Errorf("all %d NICs of VM %s are attached (add a nic= line to %s for another)", len(d.def.NICs), d.def.Name, d.def.Source)
}

// open opens NIC nic (or the next free one) as a port, for the fabric to
// attach: a dgram port on a duplicate of the fabric's end of its
// socketpair, wrapped so that its link follows the VM's state.
func (d *vmDevice) open(nic int, cfg fabric.PortConfig, a fabric.Attacher) (fabric.Opened, error) {
	idx, err := d.claim(nic)
	if err != nil {
		return fabric.Opened{}, err
	}
	if cfg.Name == "" {
		cfg.Name = d.def.Name + "/" + strconv.Itoa(idx)
	}
	if cfg.MTU == 0 {
		cfg.MTU = d.def.NICs[idx].MTU
	}
	if cfg.MTU > d.def.NICs[idx].MTU {
		d.unclaim(idx)
		return fabric.Opened{}, fmt.Errorf("mtu %d is larger than the MTU %d of NIC %d of VM %s", cfg.MTU, d.def.NICs[idx].MTU, idx, d.def.Name)
	}
	cfg.Kind = "vm"
	cfg.Device = d.def.Name
	cfg.Info = fmt.Sprintf("vm %s nic %d, mac %s", d.def.Name, idx, d.def.NICs[idx].MAC)
	sock, err := dgram.NewPort(d.nics[idx].fabric)
	if err != nil {
		d.unclaim(idx)
		return fabric.Opened{}, err
	}
	np := &nicPort{sock: sock, d: d, nic: idx, name: cfg.Name, attacher: a, link: fabric.NewLinkState()}
	port, err := fabric.Wrap(sock, fabric.Hooks{Close: np.close, LinkEvents: np.link.LinkEvents})
	if err != nil {
		sock.Close()
		d.unclaim(idx)
		return fabric.Opened{}, err
	}
	d.mu.Lock()
	d.ports[idx] = np
	if !d.up {
		np.send(fabric.LinkEvent{Up: false, Reason: d.reason})
	}
	d.mu.Unlock()
	// If the fabric cannot attach the port it closes it, which frees the NIC.
	return fabric.Opened{Port: port, Config: cfg}, nil
}

func (d *vmDevice) unclaim(nic int) {
	d.mu.Lock()
	delete(d.claimed, nic)
	d.mu.Unlock()
}

// release forgets a port whose Close was called, or whose attach failed,
// and frees its NIC.
func (d *vmDevice) release(p *nicPort) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ports[p.nic] == p {
		delete(d.ports, p.nic)
		delete(d.claimed, p.nic)
	}
	p.link.Close()
}

// nicPort is what the device keeps of the port of one NIC: the dgram port
// on the NIC's socket, and the link state that follows the VM. The port
// the fabric sees is sock wrapped (fabric.Wrap) with LinkEvents and close.
type nicPort struct {
	sock     fabric.Port
	d        *vmDevice
	nic      int
	name     string
	attacher fabric.Attacher
	link     *fabric.LinkState
}

// close closes the port's socket; the NIC can be attached again.
func (p *nicPort) close() error {
	err := p.sock.Close()
	p.d.release(p)
	return err
}

// send reports ev; it never blocks, and the last state always arrives.
func (p *nicPort) send(ev fabric.LinkEvent) { p.link.Set(ev.Up, ev.Reason, true) }
