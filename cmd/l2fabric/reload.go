package main

import (
	"errors"
	"fmt"
	"reflect"
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
	running *runConfig  // what was applied last
	// names maps each port spec of running to the name of the port or
	// device its Open created, which Detach takes.
	names map[string]string
}

// start opens the ports and adds the static entries of the configuration
// the daemon started with. An error names the port's flag or line.
func (r *reloader) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, spec := range r.running.ports {
		name, err := r.f.Open(spec)
		if err != nil {
			return fmt.Errorf("%s: %v", r.running.portOrigins[i], err)
		}
		r.names[spec] = name
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
// returned. Ports that fail to open are reported and retried by the next
// reload.
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
	remove, add, keep := diffSpecs(r.running.ports, want.ports, func(spec string) bool {
		s, err := fabric.ParseSpec(spec)
		return err == nil && s.Kind == "vm" && changedVMs[s.Arg]
	})
	res.Unchanged = len(keep)
	var errs []error
	for _, spec := range remove {
		name := r.names[spec]
		if err := r.f.Detach(name); err != nil {
			// Gone already (a VM's port, detached with its VM): forget it.
			r.log.Warn("reload: detaching", "port", name, "spec", spec, "error", err)
		}
		delete(r.names, spec)
		res.Detached = append(res.Detached, name)
	}
	applied := append([]string(nil), keep...)
	for _, spec := range add {
		name, err := r.f.Open(spec)
		if err != nil {
			errs = append(errs, fmt.Errorf("port %s: %w", spec, err))
			continue
		}
		r.names[spec] = name
		applied = append(applied, spec)
		res.Attached = append(res.Attached, name)
	}
	delStatics, addStatics := diffStatics(r.running.statics, want.statics)
	for _, st := range delStatics {
		// An entry already gone (removed with fdb del) is not an error.
		r.f.DeleteEntry(st.VLAN, st.MAC)
		res.StaticsRemoved++
	}
	appliedStatics := sameStatics(r.running.statics, want.statics)
	for _, st := range addStatics {
		if err := r.f.AddStatic(st, true); err != nil {
			errs = append(errs, fmt.Errorf("static %s@%s: %w", st.MAC, st.Port, err))
			continue
		}
		appliedStatics = append(appliedStatics, st)
		res.StaticsAdded++
	}
	want.setPorts(applied)
	want.setStatics(appliedStatics)
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

// diffSpecs compares the running port specs with the wanted ones: remove
// are running and not wanted (or changed, as changed says), add wanted
// and not running (or changed), keep both. Specs are compared as
// written: a port whose spec changed is removed and added again.
func diffSpecs(running, wanted []string, changed func(string) bool) (remove, add, keep []string) {
	want := map[string]bool{}
	for _, s := range wanted {
		want[s] = true
	}
	run := map[string]bool{}
	for _, s := range running {
		run[s] = true
		if !want[s] || changed(s) {
			remove = append(remove, s)
		}
	}
	for _, s := range wanted {
		switch {
		case !run[s] || changed(s):
			add = append(add, s)
		default:
			keep = append(keep, s)
		}
	}
	return remove, add, keep
}

// diffStatics returns the static entries running and not wanted, and
// those wanted and not running.
func diffStatics(running, wanted []fabric.Static) (remove, add []fabric.Static) {
	has := func(list []fabric.Static, s fabric.Static) bool {
		for _, o := range list {
			if o == s {
				return true
			}
		}
		return false
	}
	for _, s := range running {
		if !has(wanted, s) {
			remove = append(remove, s)
		}
	}
	for _, s := range wanted {
		if !has(running, s) {
			add = append(add, s)
		}
	}
	return remove, add
}

// sameStatics returns the entries in both lists.
func sameStatics(a, b []fabric.Static) []fabric.Static {
	var out []fabric.Static
	for _, s := range a {
		for _, o := range b {
			if s == o {
				out = append(out, s)
				break
			}
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
	note(old.fdb.Aging != new.fdb.Aging, "fdb-aging")
	note(old.fdb.MaxEntries != new.fdb.MaxEntries, "fdb-max")
	note(old.flow != new.flow, "flow-hold or flow-stall")
	note(old.logJSON != new.logJSON, "log-json")
	return out
}

// setPorts keeps those of rc's ports that are in keep, with their origins.
func (rc *runConfig) setPorts(keep []string) {
	origin := map[string]string{}
	for i, p := range rc.ports {
		origin[p] = rc.portOrigins[i]
	}
	rc.ports, rc.portOrigins = nil, nil
	for _, p := range keep {
		rc.ports = append(rc.ports, p)
		rc.portOrigins = append(rc.portOrigins, origin[p])
	}
}

// setStatics keeps those of rc's static entries that are in keep, with
// their origins.
func (rc *runConfig) setStatics(keep []fabric.Static) {
	origin := map[fabric.Static]string{}
	for i, s := range rc.statics {
		origin[s] = rc.staticOrigins[i]
	}
	rc.statics, rc.staticOrigins = nil, nil
	for _, s := range keep {
		rc.statics = append(rc.statics, s)
		rc.staticOrigins = append(rc.staticOrigins, origin[s])
	}
}
