package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// specsTopic is 'l2fabric help specs': the port kinds of this platform
// and the options every port takes.
func specsTopic() *cobra.Command {
	var b strings.Builder
	b.WriteString("A port spec is KIND:ARG[,KEY=VALUE]..., given to --port, to 'port' in a\n--config file and to 'l2fabric attach'.\n\nPort kinds on this platform:\n")
	for _, k := range platformKinds(nil) {
		fmt.Fprintf(&b, "  %-8s %s\n", k.Name, k.Summary)
		for _, f := range k.Forms {
			fmt.Fprintf(&b, "             %s\n", f)
		}
		if len(k.Keys) > 0 {
			fmt.Fprintf(&b, "             its own options: %s=...\n", strings.Join(k.Keys, "=..., "))
		}
	}
	b.WriteString(`
Options every port accepts:
  name=NAME          port name (default: derived from ARG)
  vlan=N             access VLAN 1-4094 (default 1); on a trunk, the native VLAN
  trunk=LIST         carry these VLANs tagged: 10+20+100-199, or all
  mtu=N              68-65535 (default 1500)
  learning=on|off    learn source addresses (default on)
  flood=on|off       receive unknown unicast (default on)
  mac=MAC            admit only this source address (anti-spoofing)
  txqueue=N          transmit queue length in frames (default 2048)
  loop=on|off|N      loop protection; N 1-255 ranks the port: of two looped
                     ports the lower is blocked (default 128, ties: the
                     one attached last); off: never blocked, no probes
  storm=PPS|off      limit broadcast, multicast and unknown unicast from
                     the port to PPS frames/s (default: --storm)`)
	return &cobra.Command{Use: "specs", Short: "port kinds and the options of a port spec", Long: b.String()}
}

// configTopic is 'l2fabric help config': the --config file.
func configTopic() *cobra.Command {
	var b strings.Builder
	ports := `["host:eth0", "tap:l2f0", "feth:br0"]`
	if haveVMs {
		ports = `["host:en6", "vm:router", "feth:bridge1"]`
	}
	fmt.Fprintf(&b, `'l2fabric run --config FILE' reads its settings from a TOML file. Every flag
of 'l2fabric run' but --config is a key of the same name; flags given on the
command line override the file (a list flag given on the command line
replaces the file's list). Durations are strings with a unit, lists are
lists of the strings the flags take:

  control   = "/var/run/l2fabric.sock"
  fdb-aging = "5m"
  fdb-max   = 8192
  flow-hold = "5ms"       # "0s": never wait
  log-level = "info"
  port      = %s
  static    = ["52:54:00:12:34:56@vms/vm1.sock,vlan=10"]

Keys: `, ports)
	fs, _ := daemonFlagSet()
	b.WriteString(strings.Join(configKeys(fs), ", "))
	b.WriteString(`.
`)
	if haveVMs {
		b.WriteString(`
VMs for vm:NAME ports are tables [vm.NAME] with vm.conf's keys:

  [vm.router]
  kernel  = "Image"                 # relative paths: to the file's directory
  cmdline = "console=hvc0 root=/dev/vda rw"
  cpus    = 2
  memory  = "1G"
  disk    = ["root.img", { path = "seed.iso", read-only = true }]
  nic     = [{ mac = "52:54:00:00:00:01", mtu = 1500 }, {}]
  restart = "always"

'l2fabric vm convert' prints existing vm.conf files as such tables.
`)
	}
	b.WriteString(`
SIGHUP, or 'l2fabric reload', re-reads the file: ports and static entries
added are attached, those removed detached, those whose spec changed
re-attached; unchanged ports keep their learned entries, and ports attached
with 'l2fabric attach' stay. A file that does not parse or check is
rejected with the line and key at fault, and nothing changes.`)
	return &cobra.Command{Use: "config", Short: "the --config file: keys, VM tables, reload", Long: b.String()}
}
