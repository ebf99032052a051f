package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"runtime"
	"sort"
	"strings"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/frames"
)

// command is one entry of the control protocol: the table below is what
// the server dispatches on, what its "unknown command" error lists and
// what the help command answers.
type command struct {
	name string
	// args is the type of the command's args, nil for none.
	args reflect.Type
	// help says what the command does, for the help command.
	help string
	// run executes the command; args points at a decoded value of the
	// args type (nil when the command takes none).
	run func(s *Server, args any) (any, error)
}

// withArgs builds a command whose args decode into an A.
func withArgs[A any](name, help string, run func(s *Server, a *A) (any, error)) command {
	return command{
		name: name, args: reflect.TypeFor[A](), help: help,
		run: func(s *Server, a any) (any, error) { return run(s, a.(*A)) },
	}
}

// noArgs builds a command that takes no args.
func noArgs(name, help string, run func(s *Server) (any, error)) command {
	return command{name: name, help: help, run: func(s *Server, _ any) (any, error) { return run(s) }}
}

// commands returns the control protocol, in the order help lists it. (A
// function rather than a variable because help lists the table it is in.)
func commands() []command {
	return append([]command{
		noArgs("version", "the daemon's version", func(s *Server) (any, error) {
			return VersionResult{Version: s.cfg.Version}, nil
		}),
		noArgs("help", "the commands, their args and what they do", func(s *Server) (any, error) {
			return commandHelp(), nil
		}),
		noArgs("ports", "the ports and devices, with their counters", func(s *Server) (any, error) {
			return s.f.Ports(), nil
		}),
		noArgs("stats", "the fabric's and the learning table's counters", func(s *Server) (any, error) {
			return s.f.Stats(), nil
		}),
		withArgs("fdb.show", "the learning table, filtered by port (or device) and VLAN", func(s *Server, a *FDBShowArgs) (any, error) {
			if a.VLAN > frames.MaxVLAN {
				return nil, fmt.Errorf("fdb.show: vlan %d is not a VLAN from 1 to %d", a.VLAN, frames.MaxVLAN)
			}
			ports, err := s.portFilter(a.Port)
			if err != nil {
				return nil, err
			}
			out := []fabric.Entry{}
			for _, e := range s.f.Entries() {
				if (ports == nil || ports[e.Port]) && (a.VLAN == 0 || e.VLAN == a.VLAN) {
					out = append(out, e)
				}
			}
			return out, nil
		}),
		withArgs("fdb.add", "add a static entry (vlan defaults to 1; dst: its VTEP on a vxlan port)", func(s *Server, a *FDBAddArgs) (any, error) {
			mac, err := frames.ParseMAC(a.MAC)
			if err != nil {
				return nil, err
			}
			if a.Port == "" {
				return nil, errors.New("fdb.add: port is required")
			}
			st := fabric.Static{VLAN: a.VLAN, MAC: mac, Port: a.Port}
			if a.Dst != "" {
				dst, err := netip.ParseAddr(a.Dst)
				if err != nil {
					return nil, fmt.Errorf("fdb.add: dst %q is not an IP address", a.Dst)
				}
				return struct{}{}, s.f.AddStaticVia(st, dst)
			}
			return struct{}{}, s.f.AddStatic(st, false)
		}),
		withArgs("fdb.del", "remove an entry, static or learned (vlan defaults to 1)", func(s *Server, a *FDBDelArgs) (any, error) {
			mac, err := frames.ParseMAC(a.MAC)
			if err != nil {
				return nil, err
			}
			return struct{}{}, s.f.DeleteEntry(a.VLAN, mac)
		}),
		withArgs("fdb.flush", "forget learned entries, of one port or of all", func(s *Server, a *FDBFlushArgs) (any, error) {
			n, err := s.f.Flush(a.Port)
			return FlushResult{Flushed: n}, err
		}),
		withArgs("attach", "open a port spec and attach what it creates", func(s *Server, a *AttachArgs) (any, error) {
			if a.Spec == "" {
				return nil, errors.New("attach: spec is required")
			}
			name, err := s.f.Open(a.Spec)
			var iu *fabric.SocketInUseError
			if errors.As(err, &iu) && sameFile(iu.Path, s.cfg.Path) {
				err = fmt.Errorf("%s: %s is this daemon's control socket: choose another path", a.Spec, iu.Path)
			}
			return AttachResult{Name: name}, err
		}),
		withArgs("detach", "remove a port or device", func(s *Server, a *DetachArgs) (any, error) {
			return struct{}{}, s.f.Detach(a.Name)
		}),
		withArgs("port.unblock", "unblock a port blocked as looped (blocked again if the loop is still there)", func(s *Server, a *PortArgs) (any, error) {
			return struct{}{}, s.f.Unblock(a.Name)
		}),
		noArgs("debug", "the daemon's goroutines and heap, for soak tests", func(s *Server) (any, error) {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			return DebugResult{Goroutines: runtime.NumGoroutine(), HeapAlloc: m.HeapAlloc, Sys: m.Sys}, nil
		}),
		withArgs("vxlan.remote", "add a remote VTEP to a vxlan port's flood list, remove one (op add, del), or list them (op list)", func(s *Server, a *RemoteArgs) (any, error) {
			return remoteCommand(s.f, *a)
		}),
		withArgs("macnat.show", "the MAC-NAT tables of translating host ports (Wi-Fi), of one port or of all: address, VM MAC, the VM's port, age", func(s *Server, a *MACNATShowArgs) (any, error) {
			if _, err := s.portFilter(a.Port); err != nil {
				return nil, err
			}
			return s.f.NATEntries(a.Port), nil
		}),
		noArgs("reload", "re-read the configuration file and apply what changed", func(s *Server) (any, error) {
			if s.cfg.Reload == nil {
				return nil, errors.New("reload: the daemon was started without --config, so there is no file to re-read")
			}
			return s.cfg.Reload()
		}),
	}, streamCommands()...) // capture, monitor: stream.go
}

// portFilter returns the ports whose entries a filter on name shows: the
// port called name, or the ports of the device called name (a listening
// socket's clients, a VM's NICs); nil for no filter. A name that is
// neither is an error listing the names there are.
func (s *Server) portFilter(name string) (map[string]bool, error) {
	if name == "" {
		return nil, nil
	}
	out := map[string]bool{}
	var names []string
	for _, p := range s.f.Ports() {
		if p.Name == name || p.Device == name {
			out[p.Name] = true
		}
		names = append(names, p.Name)
	}
	// A pending static entry's port, or a device's port it waits for.
	for _, e := range s.f.Entries() {
		if e.Pending && (e.Port == name || out[name] && strings.HasPrefix(e.Port, name+"/")) {
			out[e.Port] = true
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no port or device named %q (there are: %s)", name, strings.Join(names, ", "))
	}
	return out, nil
}

// lookupCommand returns the command called name.
func lookupCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// commandNames returns the names of the commands, sorted.
func commandNames() []string {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	sort.Strings(names)
	return names
}

// CommandHelp describes one command, as the help command answers it.
type CommandHelp struct {
	Name string `json:"name"`
	// Args are the names of the command's args, with their types.
	Args map[string]string `json:"args,omitempty"`
	Help string            `json:"help"`
}

func commandHelp() []CommandHelp {
	var out []CommandHelp
	for _, c := range commands() {
		h := CommandHelp{Name: c.name, Help: c.help}
		if c.args != nil {
			h.Args = map[string]string{}
			for i := 0; i < c.args.NumField(); i++ {
				f := c.args.Field(i)
				h.Args[jsonName(f)] = typeName(f.Type)
			}
		}
		out = append(out, h)
	}
	return out
}

// decodeArgs decodes raw into a new value of c's args type. Its errors
// name the argument and the type it wants, not encoding/json's internals.
func (c command) decodeArgs(raw json.RawMessage) (any, error) {
	if c.args == nil {
		if len(raw) > 0 && string(raw) != "null" && string(raw) != "{}" {
			return nil, fmt.Errorf("%s takes no args", c.name)
		}
		return nil, nil
	}
	v := reflect.New(c.args)
	if len(raw) == 0 {
		return v.Interface(), nil
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	err := dec.Decode(v.Interface())
	if err == nil {
		return v.Interface(), nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return nil, fmt.Errorf("%s: args are %s, want an object {%s}", c.name, article(te.Value), c.argList())
		}
		return nil, fmt.Errorf("%s: argument %q is %s, want %s", c.name, te.Field, article(te.Value), typeNameOfField(c.args, te.Field))
	}
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return nil, fmt.Errorf("%s: unknown argument %s (arguments: %s)", c.name, field, c.argList())
	}
	return nil, fmt.Errorf("%s: malformed args: %v (want {%s})", c.name, err, c.argList())
}

// argList lists c's arguments and their types, for errors.
func (c command) argList() string {
	var parts []string
	for i := 0; i < c.args.NumField(); i++ {
		f := c.args.Field(i)
		parts = append(parts, fmt.Sprintf("%q: %s", jsonName(f), typeName(f.Type)))
	}
	return strings.Join(parts, ", ")
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		return f.Name
	}
	return name
}

func typeNameOfField(t reflect.Type, field string) string {
	for i := 0; i < t.NumField(); i++ {
		if jsonName(t.Field(i)) == field {
			return typeName(t.Field(i).Type)
		}
	}
	return "another type"
}

// typeName describes a Go type as a JSON value the protocol accepts.
func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint:
		return fmt.Sprintf("a number from 0 to %d", uint64(1)<<(t.Bits())-1)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	}
	return t.String()
}

// article puts "a"/"an" before a JSON type name from encoding/json.
func article(v string) string {
	switch {
	case strings.HasPrefix(v, "number "):
		return "the " + v
	case v == "array" || v == "object":
		return "an " + v
	case v == "string" || v == "number" || v == "bool":
		return "a " + v
	}
	return v
}
