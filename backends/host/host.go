//go:build linux || darwin

package host

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/backends/internal/macnat"
	"github.com/l2fabric/l2fabric/fabric"
)

// The parts of the host kind Linux and macOS share: the form and options,
// and opening a port on an interface. Each platform supplies the summary
// and the port itself.

var forms = []string{"host:IFACE[,promisc=on|off][,macnat=auto|on|off][,macnat-max=N]"}

// portOpener opens the platform's port on ifi, whose name o.ifname is.
// mtu is the port's MTU; log is the port's logger.
type portOpener func(o options, ifi *net.Interface, mtu int, log hclog.Logger) (fabric.Port, error)

// kind returns the host port kind with the platform's summary and port.
func kind(summary string, openPort portOpener) fabric.Kind {
	return fabric.Kind{
		Name:    "host",
		Summary: summary,
		Forms:   forms,
		Keys:    []string{"promisc", "macnat", "macnat-max"},
		Check: func(s fabric.Spec, cfg fabric.PortConfig) error {
			o, err := parseOptions(s)
			if err == nil && o.macnat == macnatOn && cfg.IsTrunk() {
				return trunkError(s, "")
			}
			return err
		},
		Open: func(_ context.Context, s fabric.Spec, cfg fabric.PortConfig, a fabric.Attacher) (fabric.Opened, error) {
			return openHost(s, cfg, a.Logger(), net.InterfaceByName, openPort)
		},
	}
}

type options struct {
	ifname    string
	promisc   bool
	macnat    macnatMode
	macnatMax int // 0: macnat.DefaultMaxEntries
}

// hint is the host kind's form, for errors.
const hint = "form: host:IFACE[,promisc=on|off][,macnat=auto|on|off][,macnat-max=N]"

func parseOptions(s fabric.Spec) (options, error) {
	o := options{ifname: s.Arg, promisc: true}
	fail := func(part, reason string) (options, error) {
		return options{}, &fabric.SpecError{Spec: s.Text, Part: part, Reason: reason, Hint: hint}
	}
	if o.ifname == "" {
		return fail("", "missing interface name")
	}
	if len(o.ifname) >= unix.IFNAMSIZ || strings.ContainsAny(o.ifname, "/ \t") {
		return fail(o.ifname, fmt.Sprintf("not an interface name (at most %d characters, no '/' or spaces)", unix.IFNAMSIZ-1))
	}
	if v, ok := s.Get("promisc"); ok {
		on, err := fabric.ParseBool(v)
		if err != nil {
			return fail("promisc="+v, err.Error())
		}
		o.promisc = on
	}
	if v, ok := s.Get("macnat"); ok {
		switch v {
		case "auto":
		case "on":
			o.macnat = macnatOn
		case "off":
			o.macnat = macnatOff
		default:
			return fail("macnat="+v, "want auto, on or off")
		}
	}
	if v, ok := s.Get("macnat-max"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > macnat.MaxMaxEntries {
			return fail("macnat-max="+v, fmt.Sprintf("want the number of addresses MAC-NAT may learn, 1-%d (default %d)", macnat.MaxMaxEntries, macnat.DefaultMaxEntries))
		}
		o.macnatMax = n
	}
	return o, nil
}

// openHost opens the port a host spec describes, for the fabric to attach:
// the interface (looked up with lookup) must exist and not be a loopback; the
// port is named after it unless name= says otherwise, and its MTU is the
// interface's unless mtu= says otherwise.
func openHost(s fabric.Spec, cfg fabric.PortConfig, log hclog.Logger, lookup func(string) (*net.Interface, error), openPort portOpener) (fabric.Opened, error) {
	o, err := parseOptions(s)
	if err != nil {
		return fabric.Opened{}, err
	}
	ifi, err := lookup(o.ifname)
	if err != nil {
		return fabric.Opened{}, fmt.Errorf("no interface %q (interfaces here: %s)", o.ifname, interfaceNames())
	}
	if ifi.Flags&net.FlagLoopback != 0 {
		return fabric.Opened{}, fmt.Errorf("%s is a loopback interface: it carries no Ethernet frames", o.ifname)
	}
	if cfg.Name == "" {
		cfg.Name = o.ifname
	}
	if cfg.MTU == 0 {
		cfg.MTU = min(max(ifi.MTU, fabric.MinMTU), fabric.MaxMTU)
	}
	nat, natInfo, err := decideMACNAT(s, o, cfg)
	if err != nil {
		return fabric.Opened{}, err
	}
	cfg.Kind = "host"
	cfg.Info = o.ifname + ", " + natInfo
	cfg.LoopProbes = true // the NIC's LAN
	log = log.Named("host").With("port", cfg.Name)
	p, err := openPort(o, ifi, cfg.MTU, log)
	if err != nil {
		return fabric.Opened{}, err
	}
	if nat {
		if p, err = wrapMACNAT(p, o, log); err != nil {
			return fabric.Opened{}, err
		}
	}
	return fabric.Opened{Port: p, Config: cfg}, nil
}

func interfaceNames() string {
	ifs, err := net.Interfaces()
	if err != nil {
		return "unknown: " + err.Error()
	}
	var names []string
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback == 0 {
			names = append(names, i.Name)
		}
	}
	if len(names) == 0 {
		return "none but loopback"
	}
	return strings.Join(names, ", ")
}
