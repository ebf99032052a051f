package fabric

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Kind is a port kind: how a backend turns a Spec into ports. The binary
// assembles the kinds its platform supports into a Kinds and hands it to
// the fabric; nothing is registered globally.
type Kind struct {
	// Name is the KIND of KIND:ARG, e.g. "dgram".
	Name string
	// Summary is a one-line description for help output.
	Summary string
	// Forms lists the accepted forms, e.g. "dgram:PATH", for help and
	// error messages.
	Forms []string
	// Keys are the backend-specific option keys, beyond CommonKeys.
	Keys []string
	// Check validates a spec without creating anything, so that every
	// --port is checked before the first is opened. Optional.
	Check func(spec Spec, cfg PortConfig) error
	// Open creates the backend's port or ports and attaches them through
	// host. cfg holds the common options; the backend fills in Name (when
	// empty), Kind and Info. A backend whose ports come and go (a
	// listening socket) returns a Device, which the fabric keeps until it
	// is detached or the fabric stops; a single-port backend returns nil.
	// ctx ends when the fabric stops.
	Open func(ctx context.Context, spec Spec, cfg PortConfig, host Host) (Device, error)
}

// Host is what a backend uses to put ports on the fabric.
type Host interface {
	// Attach puts a port on the fabric.
	Attach(p Port, cfg PortConfig) error
	// Detach takes a port off the fabric and closes it.
	Detach(name string) error
	// Logger is the backend's logger.
	Logger() hclog.Logger
	// FlowControl is the fabric's flow control, defaults applied (MaxHold
	// 0: never wait), for a backend that queues frames on their way in and
	// should push back the same way when its queue is full (a listener
	// handing each client's frames to that client's port).
	FlowControl() FlowControl
}

// Device is a backend instance that owns a changing set of ports, such as
// a listening socket whose every client is a port.
type Device interface {
	// Name is the device's name: detaching it detaches all its ports.
	Name() string
	// Info describes the device for dumps (e.g. its socket path).
	Info() string
	// Close stops the device, detaches its ports and removes what it
	// created.
	Close() error
}

// DeviceStater is implemented by devices with a state worth showing in
// dumps (a VM: "running", "stopped", "restarting"). Other devices show as
// "listening".
type DeviceStater interface {
	State() string
}

// Kinds is the set of port kinds available.
type Kinds []Kind

// Lookup returns the kind called name.
func (ks Kinds) Lookup(name string) (Kind, bool) {
	for _, k := range ks {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}

// Names returns the kinds' names.
func (ks Kinds) Names() []string {
	var out []string
	for _, k := range ks {
		out = append(out, k.Name)
	}
	return out
}

// Parse parses and checks a port spec against the kinds: syntax, kind,
// common options, backend keys and the kind's own Check. It creates
// nothing.
func (ks Kinds) Parse(text string) (Kind, Spec, PortConfig, error) {
	spec, err := ParseSpec(text)
	if err != nil {
		return Kind{}, Spec{}, PortConfig{}, err
	}
	k, ok := ks.Lookup(spec.Kind)
	if !ok {
		return Kind{}, Spec{}, PortConfig{}, &SpecError{Spec: text, Part: spec.Kind,
			Reason: "unknown port kind", Hint: "kinds available on this platform: " + strings.Join(ks.Names(), ", ")}
	}
	cfg, err := ParsePortConfig(spec, k.Keys, strings.Join(k.Forms, " | "))
	if err != nil {
		return Kind{}, Spec{}, PortConfig{}, err
	}
	if k.Check != nil {
		if err := k.Check(spec, cfg); err != nil {
			return Kind{}, Spec{}, PortConfig{}, err
		}
	}
	return k, spec, cfg, nil
}

// device is an open Device and how it was opened.
type device struct {
	name   string
	kind   string
	spec   string
	cfg    PortConfig
	dev    Device
	opened time.Time
}

// Open parses text as a port spec, opens its backend and attaches what it
// creates. It returns the name of the port or device created.
func (f *Fabric) Open(text string) (string, error) {
	k, spec, cfg, err := f.kinds.Parse(text)
	if err != nil {
		return "", err
	}
	f.mu.Lock()
	closed := f.closed
	f.mu.Unlock()
	if closed {
		return "", ErrClosed
	}
	h := &deviceHost{f: f}
	dev, err := k.Open(f.ctx, spec, cfg, h)
	if err != nil {
		return "", fmt.Errorf("%s: %w", text, err)
	}
	if dev == nil {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.lastPort, nil
	}
	f.mu.Lock()
	_, dup := f.devices[dev.Name()]
	_, dupPort := f.ports.Load().byName[dev.Name()]
	if !dup && !dupPort && !f.closed {
		f.devices[dev.Name()] = &device{name: dev.Name(), kind: k.Name, spec: text, cfg: cfg.withDefaults(), dev: dev, opened: time.Now()}
	}
	f.mu.Unlock()
	if dup || dupPort {
		dev.Close()
		return "", fmt.Errorf("%s: name %q is already in use (give it another with name=)", text, dev.Name())
	}
	return dev.Name(), nil
}

// closeDevice closes d and forgets it.
func (f *Fabric) closeDevice(d *device) {
	f.mu.Lock()
	if f.devices[d.name] != d {
		f.mu.Unlock()
		return
	}
	delete(f.devices, d.name)
	f.mu.Unlock()
	if err := d.dev.Close(); err != nil {
		f.log.Warn("closing device", "device", d.name, "error", err)
	}
	// Ports the device did not detach itself go now.
	for _, p := range f.ports.Load().list {
		if p.Device == d.name {
			f.detach(p, fmt.Errorf("device %s closed", d.name), detachExternal)
		}
	}
	f.log.Info("device closed", "device", d.name)
}

// deviceHost is the Host a backend gets from Open.
type deviceHost struct {
	f        *Fabric
	mu       sync.Mutex
	lastPort string // the last port attached, named by Open for single-port kinds
}

func (h *deviceHost) Attach(p Port, cfg PortConfig) error {
	if err := h.f.Attach(p, cfg); err != nil {
		return err
	}
	h.mu.Lock()
	h.lastPort = cfg.Name
	h.mu.Unlock()
	return nil
}

func (h *deviceHost) Detach(name string) error {
	p := h.f.ports.Load().byName[name]
	if p == nil {
		return fmt.Errorf("no port named %q", name)
	}
	h.f.detach(p, fmt.Errorf("detached by its device"), detachExternal)
	return nil
}

func (h *deviceHost) Logger() hclog.Logger { return h.f.log }

func (h *deviceHost) FlowControl() FlowControl { return h.f.flow }

// Devices returns the names of the open devices, sorted.
func (f *Fabric) Devices() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for n := range f.devices {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
