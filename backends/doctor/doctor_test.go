package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/l2fabric/l2fabric/fabric"
)

// testKinds are two kinds, one with a check of its argument.
func testKinds() fabric.Kinds {
	return fabric.Kinds{
		{Name: "host", Forms: []string{"host:IFACE"}, Check: func(s fabric.Spec, _ fabric.PortConfig) error {
			if s.Arg == "" {
				return &fabric.SpecError{Spec: "host:", Reason: "missing interface"}
			}
			return nil
		}},
		{Name: "dgram", Forms: []string{"dgram:PATH"}},
	}
}

func TestTargets(t *testing.T) {
	got, err := Targets([]string{"host:en0", "dgram:/tmp/x.sock,mtu=9000"}, testKinds(), nil)
	if err != nil || !slices.Equal(got, []Target{{"host", "en0"}, {"dgram", "/tmp/x.sock"}}) {
		t.Errorf("Targets = %v, %v", got, err)
	}
	got, err = Targets(nil, testKinds(), map[string]string{"host": "lo"})
	if err != nil || !slices.Equal(got, []Target{{"host", "lo"}, {"dgram", ""}}) {
		t.Errorf("Targets with no spec = %v, %v", got, err)
	}
	for _, bad := range []string{"host:", "vm:router", "nonsense"} {
		if _, err := Targets([]string{bad}, testKinds(), nil); err == nil {
			t.Errorf("Targets(%q) succeeded", bad)
		}
	}
}

// TestPlanRunsEachCheckOnce: two targets needing the same check run it
// once, in the order of first need.
func TestPlanRunsEachCheckOnce(t *testing.T) {
	mk := func(name string) Check { return Check{Name: name} }
	checksFor := func(tg Target) []Check {
		switch tg.Kind {
		case "host":
			return []Check{mk("cap"), mk("packet:" + tg.Arg)}
		case "tap":
			return []Check{mk("cap"), mk("tun")}
		}
		return nil
	}
	var names []string
	for _, c := range Plan([]Target{{"host", "a"}, {"tap", ""}, {"host", "b"}, {"host", "a"}, {"other", ""}}, checksFor) {
		names = append(names, c.Name)
	}
	if want := []string{"cap", "packet:a", "tun", "packet:b"}; !slices.Equal(names, want) {
		t.Errorf("plan %v, want %v", names, want)
	}
}

// TestRun: results in order; once the context ends, what is left is
// skipped as interrupted; a check that says nothing is a failure.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := 0
	checks := []Check{
		{Name: "a", Run: func(context.Context) []Result { ran++; return []Result{pass("a", "fine")} }},
		{Name: "b", Run: func(context.Context) []Result {
			ran++
			return []Result{fail("b1", "broken", "mend it"), skip("b2", "not here")}
		}},
		{Name: "c", Run: func(context.Context) []Result { ran++; return nil }},
		{Name: "d", Run: func(context.Context) []Result { ran++; cancel(); return []Result{pass("d", "then interrupted")} }},
		{Name: "e", Run: func(context.Context) []Result { ran++; return []Result{pass("e", "never")} }},
	}
	rs := Run(ctx, checks)
	var got []string
	for _, r := range rs {
		got = append(got, r.Name+"="+string(r.Status))
	}
	if want := []string{"a=PASS", "b1=FAIL", "b2=SKIP", "c=FAIL", "d=PASS", "e=SKIP"}; !slices.Equal(got, want) {
		t.Errorf("results %v, want %v", got, want)
	}
	if ran != 4 || !strings.Contains(rs[5].Detail, "interrupted") {
		t.Errorf("%d checks ran; last %+v", ran, rs[5])
	}
	if !Failed(rs) || Failed(rs[:1]) || Failed([]Result{skip("x", "")}) {
		t.Error("Failed is wrong")
	}
}

func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	rs := []Result{pass("tun", "made a TAP"), fail("bridge:br9", "no interface br9", "create it")}
	if err := WriteText(&b, rs); err != nil {
		t.Fatal(err)
	}
	want := "PASS  tun         made a TAP\n" +
		"FAIL  bridge:br9  no interface br9\n" +
		"                  fix: create it\n" +
		"\n1 passed, 1 failed, 0 skipped\n"
	if b.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, []Result{pass("tun", "ok"), fail("x", "bad", "fix it")}); err != nil {
		t.Fatal(err)
	}
	var raw []map[string]any
	if err := json.Unmarshal(b.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw) != 2 || !slices.Equal(slices.Sorted(maps.Keys(raw[0])), []string{"detail", "name", "status"}) ||
		!slices.Equal(slices.Sorted(maps.Keys(raw[1])), []string{"detail", "fix", "name", "status"}) || raw[1]["status"] != "FAIL" {
		t.Errorf("JSON %s", b.String())
	}
	b.Reset()
	WriteJSON(&b, nil)
	if strings.TrimSpace(b.String()) != "[]" {
		t.Errorf("no results: %s", b.String())
	}
}
