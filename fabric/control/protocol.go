// Package control is l2fabric's control protocol: the running daemon
// serves it on a unix stream socket, and the l2fabric client commands
// (fdb, ports, stats, attach, detach) speak it.
//
// # Protocol
//
// A client connects to the socket and sends requests, one JSON object per
// line; the daemon answers each with one JSON object per line, in order:
//
//	→ {"command":"fdb.show","args":{"port":"vms/vm1","vlan":1}}
//	← {"ok":true,"result":[{"port":"vms/vm1","vlan":1,"mac":"52:54:00:00:00:01","static":false,"age_seconds":3.2}]}
//	→ {"command":"nope"}
//	← {"ok":false,"error":"unknown command \"nope\"; commands: ..."}
//
// Commands and their args:
//
//	version                                  → {"version": "..."}
//	ports                                    → [PortInfo...]
//	stats                                    → Stats
//	fdb.show   {"port":NAME,"vlan":N}        → [Entry...] (both filters optional)
//	fdb.add    {"mac":MAC,"port":NAME,"vlan":N,"dst":IP}   static entry (vlan defaults to 1; dst: its VTEP on a vxlan port)
//	fdb.del    {"mac":MAC,"vlan":N}
//	fdb.flush  {"port":NAME}                 → {"flushed": N} (learned entries; all ports when no port)
//	attach     {"spec":"KIND:ARG,..."}       → {"name": NAME}
//	detach     {"name":NAME}
//	vxlan.remote {"port":NAME,"op":"add"|"del"|"list","remote":IP} → {"remotes": [IP...]}
//	macnat.show {"port":NAME}                → [NATDumpEntry...] (MAC-NAT tables; port optional)
//	reload                                   → ReloadResult (re-read the --config file)
//	port.unblock {"name":NAME}               unblock a port blocked as looped
//	debug                                    → DebugResult (goroutines, heap; for soak tests)
//	help                                     → [{"name","args","help"}...]
//
// The table of commands in commands.go is the one list: dispatch, the
// "unknown command" error and the help command all come from it. An
// argument of the wrong type is answered with its name and the type
// wanted: "fdb.show: argument "vlan" is a string, want a number from 0 to
// 65535".
//
// Two commands stream after their reply, until the client sends a line or
// closes (see stream.go): capture {"ports":[NAME...],"vlan":N,"count":N}
// sends binary frame records (records.go), monitor sends one fabric.Event
// per JSON line.
//
// A malformed or unknown request gets an error reply and never affects
// forwarding. Requests are limited to MaxRequest bytes.
package control

import "encoding/json"

// MaxRequest is the longest request line the server reads.
const MaxRequest = 64 << 10

// Request is one command to the daemon.
type Request struct {
	Command string          `json:"command"`
	Args    json.RawMessage `json:"args,omitempty"`
}

// Response is the daemon's answer to one Request.
type Response struct {
	OK     bool            `json:"ok"`
	Error  string          `json:"error,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
}

// FDBShowArgs filters fdb.show.
type FDBShowArgs struct {
	Port string `json:"port,omitempty"`
	VLAN uint16 `json:"vlan,omitempty"`
}

// FDBAddArgs is a static entry for fdb.add.
type FDBAddArgs struct {
	MAC  string `json:"mac"`
	Port string `json:"port"`
	VLAN uint16 `json:"vlan,omitempty"`
	// Dst, on a tunnel port (vxlan), is the remote endpoint the MAC lives
	// behind.
	Dst string `json:"dst,omitempty"`
}

// RemoteArgs is vxlan.remote's request: add a remote endpoint to a tunnel
// port's flood list, remove one, or list them.
type RemoteArgs struct {
	Port   string `json:"port"`
	Op     string `json:"op"`
	Remote string `json:"remote,omitempty"`
}

// RemotesResult is vxlan.remote's result: the port's flood list after the
// operation.
type RemotesResult struct {
	Remotes []string `json:"remotes"`
}

// FDBDelArgs names the entry fdb.del removes.
type FDBDelArgs struct {
	MAC  string `json:"mac"`
	VLAN uint16 `json:"vlan,omitempty"`
}

// FDBFlushArgs limits fdb.flush to one port.
type FDBFlushArgs struct {
	Port string `json:"port,omitempty"`
}

// FlushResult is fdb.flush's result.
type FlushResult struct {
	Flushed int `json:"flushed"`
}

// AttachArgs is attach's port spec.
type AttachArgs struct {
	Spec string `json:"spec"`
}

// AttachResult names what attach created.
type AttachResult struct {
	Name string `json:"name"`
}

// PortArgs names the port of a port.* command (port.unblock).
type PortArgs struct {
	Name string `json:"name"`
}

// DetachArgs names the port or device detach removes.
type DetachArgs struct {
	Name string `json:"name"`
}

// DebugResult is the daemon's own resource use, for soak tests that check
// it stays flat.
type DebugResult struct {
	Goroutines int    `json:"goroutines"`
	HeapAlloc  uint64 `json:"heap_alloc_bytes"`
	Sys        uint64 `json:"sys_bytes"`
}

// MACNATShowArgs limits macnat.show to one port.
type MACNATShowArgs struct {
	Port string `json:"port,omitempty"`
}

// VersionResult is version's result.
type VersionResult struct {
	Version string `json:"version"`
}

// ReloadResult is what reload changed. A port whose spec changed is both
// detached and attached.
type ReloadResult struct {
	// Attached names the ports and devices attached.
	Attached []string `json:"attached"`
	// Detached names the ports and devices detached.
	Detached []string `json:"detached"`
	// Unchanged counts the ports and devices left as they were.
	Unchanged int `json:"unchanged"`
	// StaticsAdded and StaticsRemoved count the static entries changed.
	StaticsAdded   int `json:"statics_added"`
	StaticsRemoved int `json:"statics_removed"`
	// Warnings are settings that changed in the file but take effect
	// only at restart.
	Warnings []string `json:"warnings,omitempty"`
}
