package main

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/l2fabric/l2fabric/backends/vm"
	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fabric/control"
)

// reloader re-reads the configuration file and applies the difference
// between what it wants and what runs: ports and static entries. Ports
// attached at run time with 'l2fabric attach' are not the file's and are
// left alone; so are unchanged ports and their learned entries.
type reloader struct {
	mu      sync.Mutex
	f       *fabric.Fabric
	log     hclog.Logger
	cmdline []setting   // the command line, which overrides the file
	vms     *vm.Catalog // the fabric's VM catalog
	running *runConfig  // what was asked for last (its ports: see ports)
	// ports are the port specs open, in order, and names the name of the
	// port or device each one's Open created, which Detach takes.
	ports []portKey
	names map[portKey]string
}

func newReloader(f *fabric.Fabric, log hclog.Logger, cmdline []setting, vms *vm.Catalog, rc *runConfig) *reloader {
	return &reloader{f: f, log: log, cmdline: cmdline, vms: vms, running: rc, names: map[portKey]string{}}
}

// portKey is one port spec of a configuration: the spec, and which of
// the specs written the same way it is (vm:router twice attaches two of
// the router's NICs).
type portKey struct {
	spec string
	n    int
}

// portKeys keys a list of specs.
func portKeys(specs []string) []portKey {
	seen := map[string]int{}
	out := make([]portKey, len(specs))
	for i, s := range specs {
		out[i] = portKey{s, seen[s]}
		seen[s]++
	}
	return out
}

// start opens the ports and adds the static entries of the configuration
// the daemon started with. An error names the port's flag or line.
func (r *reloader) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, k := range portKeys(r.running.ports) {
		name, err := r.f.Open(k.spec)
		if err != nil {
			return fmt.Errorf("%s: %v", r.running.portOrigins[i], err)
		}
		r.names[k] = name
		r.ports = append(r.ports, k)
	}
	for i, st := range r.running.statics {
		if err := r.f.AddStatic(st, true); err != nil {
			return fmt.Errorf("%s %s@%s: %v", r.running.staticOrigins[i], st.MAC, st.Port, err)
		}
	}
	return nil
}

// reload re-reads the file. A file that does not parse or validate
// changes nothing: its error, naming the key and line, is logged and
// returned. Ports and static entries that fail to apply are reported and
// retried by the next reload.
func (r *reloader) reload() (control.ReloadResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	want, err := loadRunConfig(r.cmdline)
	if err != nil {
		r.log.Error("reload rejected; the running configuration stays", "error", err)
		return control.ReloadResult{}, fmt.Errorf("reload rejected, nothing changed: %w", err)
	}
	res := control.ReloadResult{Warnings: restartOnly(r.running, want)}
	for _, w := range res.Warnings {
		r.log.Warn("reload: " + w)
	}
	if want.logLevel != r.running.logLevel {
		r.log.SetLevel(want.logLevel)
	}
	changedVMs := changedDefinitions(r.running.vmDefs, want.vmDefs)
	if err := r.vms.SetInline(want.vmDefs); err != nil {
		return res, err
	}
	r.forgetGone()
	remove, add, keep := diffPorts(r.ports, portKeys(want.ports), func(spec string) bool {
		s, err := fabric.ParseSpec(spec)
		return err == nil && s.Kind == "vm" && changedVMs[s.Arg]
	})
	res.Unchanged = len(keep)
	var errs []error
	for _, k := range remove {
		name := r.names[k]
		if err := r.f.Detach(name); err != nil {
			// Gone already (a VM's port, detached with its VM): forget it.
			r.log.Warn("reload: detaching", "port", name, "spec", k.spec, "error", err)
		}
		delete(r.names, k)
		res.Detached = append(res.Detached, name)
	}
	r.ports = keep
	for _, k := range add {
		name, err := r.f.Open(k.spec)
		if err != nil {
			errs = append(errs, fmt.Errorf("port %s: %w", k.spec, err))
			continue
		}
		r.names[k] = name
		r.ports = append(r.ports, k)
		res.Attached = append(res.Attached, name)
	}
	delStatics, addStatics := diffStatics(r.running.statics, want.statics)
	for _, st := range delStatics {
		// An entry already gone (removed with fdb del) is not an error.
		r.f.DeleteEntry(st.VLAN, st.MAC)
		res.StaticsRemoved++
	}
	statics := sameStatics(r.running.statics, want.statics)
	for _, st := range addStatics {
		if err := r.f.AddStatic(st, true); err != nil {
			errs = append(errs, fmt.Errorf("static %s@%s: %w", st.MAC, st.Port, err))
			continue
		}
		statics = append(statics, st)
		res.StaticsAdded++
	}
	want.statics = statics // what failed is added by the next reload
	r.running = want
	logArgs := []any{"file", want.configFile, "attached", res.Attached, "detached", res.Detached,
		"unchanged", res.Unchanged, "statics_added", res.StaticsAdded, "statics_removed", res.StaticsRemoved}
	if err := errors.Join(errs...); err != nil {
		r.log.Error("reloaded, with errors", append(logArgs, "error", err)...)
		return res, fmt.Errorf("reload applied in part (attached %v, detached %v; what failed is retried by the next reload): %w", res.Attached, res.Detached, err)
	}
	r.log.Info("reloaded", logArgs...)
	return res, nil
}

// forgetGone forgets the ports of the file that are no longer there
// (detached with 'l2fabric detach'), so that the reload attaches them
// again.
func (r *reloader) forgetGone() {
	there := map[string]bool{}
	for _, p := range r.f.Ports() {
		there[p.Name] = true
	}
	alive := r.ports[:0]
	for _, k := range r.ports {
		if there[r.names[k]] {
			alive = append(alive, k)
			continue
		}
		r.log.Info("reload: attaching again a port of the file detached since", "port", r.names[k], "spec", k.spec)
		delete(r.names, k)
	}
	r.ports = alive
}

// diffPorts compares the running ports with the wanted ones: remove are
// running and not wanted (or their spec changed, as changed says), add
// wanted and not running (or changed), keep both, in the wanted order.
// Specs are compared as written: a port whose spec changed is removed and
// added again.
func diffPorts(running, wanted []portKey, changed func(spec string) bool) (remove, add, keep []portKey) {
	want := map[portKey]bool{}
	for _, k := range wanted {
		want[k] = true
	}
	run := map[portKey]bool{}
	for _, k := range running {
		run[k] = true
		if !want[k] || changed(k.spec) {
			remove = append(remove, k)
		}
	}
	for _, k := range wanted {
		if !run[k] || changed(k.spec) {
			add = append(add, k)
		} else {
			keep = append(keep, k)
		}
	}
	return remove, add, keep
}

// diffStatics returns the static entries running and not wanted, and
// those wanted and not running.
func diffStatics(running, wanted []fabric.Static) (remove, add []fabric.Static) {
	for _, s := range running {
		if !slices.Contains(wanted, s) {
			remove = append(remove, s)
		}
	}
	for _, s := range wanted {
		if !slices.Contains(running, s) {
			add = append(add, s)
		}
	}
	return remove, add
}

// sameStatics returns the entries of a that are also in b.
func sameStatics(a, b []fabric.Static) []fabric.Static {
	var out []fabric.Static
	for _, s := range a {
		if slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

// changedDefinitions names the VMs whose definitions differ between old
// and new (added or removed VMs included).
func changedDefinitions(old, new []*vm.Definition) map[string]bool {
	byName := func(ds []*vm.Definition) map[string]*vm.Definition {
		m := map[string]*vm.Definition{}
		for _, d := range ds {
			m[d.Name] = d
		}
		return m
	}
	o, n := byName(old), byName(new)
	out := map[string]bool{}
	for name, d := range o {
		if !reflect.DeepEqual(d, n[name]) {
			out[name] = true
		}
	}
	for name := range n {
		if o[name] == nil {
			out[name] = true
		}
	}
	return out
}

// restartOnly describes the settings that differ between old and new but
// that only a restart applies.
func restartOnly(old, new *runConfig) []string {
	var out []string
	note := func(changed bool, key string) {
		if changed {
			out = append(out, key+" changed: it takes effect when the daemon restarts")
		}
	}
	note(old.control != new.control, "control")
	note(old.controlGroup != new.controlGroup, "control-group")
	note(old.metrics != new.metrics, "metrics")
	note(old.fdb.Aging != new.fdb.Aging, "fdb-aging")
	note(old.fdb.MaxEntries != new.fdb.MaxEntries, "fdb-max")
	note(old.flow != new.flow, "flow-hold or flow-stall")
	note(old.noLoopDetect != new.noLoopDetect, "loop-detect")
	note(old.storm != new.storm, "storm")
	note(old.logJSON != new.logJSON, "log-json")
	return out
}
