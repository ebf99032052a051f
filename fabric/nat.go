package fabric

import (
	"net/netip"
	"sort"

	"github.com/l2fabric/l2fabric/frames"
)

// NATPort is implemented by ports that translate addresses between the
// fabric and their link: MAC-NAT on a host port whose link admits only
// the host's MAC (Wi-Fi). The fabric shows their counters with the
// port's (Counters.NAT) and their tables in NATEntries.
type NATPort interface {
	// NATTable returns the port's translation table.
	NATTable() []NATEntry
	// NATCounters returns the port's translation counters.
	NATCounters() NATCounters
}

// NATEntry is one address of a port's translation table.
type NATEntry struct {
	// IP is the address.
	IP netip.Addr `json:"ip"`
	// MAC is the MAC of the station that uses it behind the fabric, or
	// the host interface's own for the host's addresses.
	MAC frames.MAC `json:"mac"`
	// Host marks the host's own addresses, which no VM can take over.
	Host bool `json:"host,omitempty"`
	// Age is the time in seconds since the station last sent from the
	// address (0 for the host's).
	Age float64 `json:"age_seconds"`
}

// NATCounters are a translating port's counters. Frames the port keeps
// from the fabric (ToHost, Misses) are counted here and nowhere else.
type NATCounters struct {
	// TranslatedOut counts frames sent with the host's MAC as source.
	TranslatedOut uint64 `json:"translated_out"`
	// TranslatedIn counts frames for the host's MAC delivered to a VM.
	TranslatedIn uint64 `json:"translated_in"`
	// ToHost counts received frames for the host's own addresses, left to
	// the host.
	ToHost uint64 `json:"to_host"`
	// Misses counts received frames for the host's MAC and an address no
	// VM uses, not delivered.
	Misses uint64 `json:"misses"`
	// Looped counts received frames from the host's own MAC (its own, or
	// translated frames an access point relays back), not delivered.
	Looped uint64 `json:"looped"`
	// TableFull counts addresses not learned because the table was full.
	TableFull uint64 `json:"table_full"`
	// Moves counts addresses another VM took over.
	Moves uint64 `json:"moves"`
	// HostConflicts counts frames VMs sent from the host's own addresses.
	HostConflicts uint64 `json:"host_conflicts"`
	// Untranslatable counts frames of EtherTypes other than IPv4, IPv6 and
	// ARP: sent with the host's MAC, but replies cannot be returned.
	Untranslatable uint64 `json:"untranslatable"`
}

// NATDumpEntry is a NATEntry with the port whose table it is in and the
// port behind which the station lives (from the learning table; empty
// when unknown, or for the host's addresses).
type NATDumpEntry struct {
	NATPort string `json:"nat_port"`
	NATEntry
	Port string `json:"port,omitempty"`
}

// NATEntries returns the translation tables of the translating ports (of
// the one called port, when port is not empty), sorted by port.
func (f *Fabric) NATEntries(port string) []NATDumpEntry {
	where := map[frames.MAC]string{}
	for _, e := range f.fdb.Entries() {
		where[e.MAC] = e.Port.Name
	}
	out := []NATDumpEntry{}
	for _, p := range f.ports.Load().list {
		np, ok := p.dev.(NATPort)
		if !ok || port != "" && p.Name != port {
			continue
		}
		for _, e := range np.NATTable() {
			d := NATDumpEntry{NATPort: p.Name, NATEntry: e}
			if !e.Host {
				d.Port = where[e.MAC]
			}
			out = append(out, d)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].NATPort < out[j].NATPort })
	return out
}
