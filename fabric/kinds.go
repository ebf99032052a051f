package fabric

import (
	"context"
	"strings"

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
	// Open creates what spec describes. cfg holds the common options. A
	// single-port backend returns its port and the port's configuration:
	// cfg with Name (when empty), Kind and Info filled in; the fabric
	// attaches it, and closes it if that fails. A backend whose ports come
	// and go (a listening socket) returns a Device, which the fabric keeps
	// until it is detached or the fabric stops, and attaches the device's
	// ports itself through a. A backend may return both (a VM's first
	// NIC). ctx ends when the fabric stops.
	Open func(ctx context.Context, spec Spec, cfg PortConfig, a Attacher) (Opened, error)
}

// Opened is what a Kind's Open created.
type Opened struct {
	// Port is the port to attach, or nil.
	Port Port
	// Config is the port's configuration.
	Config PortConfig
	// Device is the device to keep, or nil.
	Device Device
}

// Attacher is what a backend's devices use to put ports on the fabric and
// take them off.
type Attacher interface {
	// Attach puts a port on the fabric.
	Attach(p Port, cfg PortConfig) error
	// Detach takes a port off the fabric and closes it.
	Detach(name string) error
	// Logger is the backend's logger.
	Logger() hclog.Logger
	// FlowControl is the fabric's flow control, defaults applied, for a
	// backend that queues frames on their way in and pushes back the same
	// way when its queue is full (a listener handing each client's frames
	// to that client's port, through a flowq.Queue).
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
