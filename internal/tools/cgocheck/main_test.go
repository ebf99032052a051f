package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The testdata packages import github.com/Code-Hex/vz/v3, which must be in
// go.mod (backends/vm requires it) and in the module cache.

// TestGoodPasses: correct use of vz, and a file with import "C", type-check
// without errors.
func TestGoodPasses(t *testing.T) {
	res, err := Check("testdata/good", "arm64")
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped {
		t.Fatal("testdata/good skipped: its darwin&&cgo files were not found")
	}
	if want := []string{"cfree.go", "nic.go"}; !slices.Equal(res.CgoOnly, want) {
		t.Errorf("darwin&&cgo files = %v, want %v", res.CgoOnly, want)
	}
	if len(res.Errors) != 0 {
		t.Errorf("errors in a correct package:\n%s", strings.Join(res.Errors, "\n"))
	}
}

// TestBadFails: misuse of vz's API is reported, each error once, as
// file:line:col: message.
func TestBadFails(t *testing.T) {
	for _, goarch := range []string{"arm64", "amd64"} {
		t.Run(goarch, func(t *testing.T) {
			res, err := Check("testdata/bad", goarch)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{
				"bad/more.go:9:37: cannot use 1 (untyped int constant) as string value in argument to vz.NewLinuxBootLoader",
				"bad/more.go:13:56: not enough arguments in call to vz.NewVirtualMachineConfiguration",
				"bad/more.go:16:5: undefined: vz.NoSuchFunction",
				"bad/more.go:17:6: declared and not used: unused",
				"bad/nic.go:24:20: cannot use hw (variable of slice type net.HardwareAddr) as *vz.MACAddress value in argument to cfg.SetMACAddress",
			}
			if len(res.Errors) != len(want) {
				t.Errorf("got %d errors, want %d:\n%s", len(res.Errors), len(want), strings.Join(res.Errors, "\n"))
			}
			form := regexp.MustCompile(`^\S+\.go:\d+:\d+: \S`)
			for _, e := range res.Errors {
				if !form.MatchString(e) {
					t.Errorf("error not in file:line:col: form: %q", e)
				}
			}
			for _, w := range want {
				if !slices.ContainsFunc(res.Errors, func(e string) bool { return strings.Contains(e, w) }) {
					t.Errorf("missing error %q in:\n%s", w, strings.Join(res.Errors, "\n"))
				}
			}
		})
	}
}

// TestNoCgoSkipped: a package whose darwin files all build without cgo
// is skipped, not an error.
func TestNoCgoSkipped(t *testing.T) {
	res, err := Check("testdata/nocgo", "arm64")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Skipped || len(res.Errors) != 0 {
		t.Errorf("Check = %+v, want skipped without errors", res)
	}
}

// TestExpand: DIR/... finds the packages below DIR but not testdata; a
// directory given by itself is named.
func TestExpand(t *testing.T) {
	dirs := func(ts []target) (d []string) {
		for _, t := range ts {
			d = append(d, t.dir)
		}
		return d
	}
	ts, err := expand([]string{"./testdata/..."}, "arm64")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"testdata/bad", "testdata/good", "testdata/nocgo"}
	if !slices.Equal(dirs(ts), want) || ts[0].named {
		t.Errorf("expand = %+v, want %v, not named", ts, want)
	}
	ts, err = expand([]string{"./...", "testdata/good"}, "arm64")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dirs(ts), []string{".", "testdata/good"}) || ts[0].named || !ts[1].named {
		t.Errorf("expand(./..., testdata/good) = %+v, want [. testdata/good] (testdata skipped), the second named", ts)
	}
	if _, err := expand([]string{"./nonexistent/..."}, "arm64"); err == nil {
		t.Error("a pattern matching nothing is not an error")
	}
}
