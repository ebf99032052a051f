package metrics_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fabric/fabrictest"
	"github.com/l2fabric/l2fabric/fabric/metrics"
)

func runningFabric(t *testing.T) (*fabric.Fabric, *fabrictest.Port, *fabrictest.Port) {
	t.Helper()
	f, err := fabric.New(fabric.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	a, b := fabrictest.New(8), fabrictest.New(8)
	if err := f.Attach(a, fabric.PortConfig{Name: "a", Kind: "test", MTU: 100}); err != nil {
		t.Fatal(err)
	}
	if err := f.Attach(b, fabric.PortConfig{Name: "b", Kind: "test"}); err != nil {
		t.Fatal(err)
	}
	return f, a, b
}

// value finds the metric name with the given labels.
func value(t *testing.T, mfs []*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue next
				}
			}
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
	}
	t.Fatalf("no metric %s%v", name, labels)
	return 0
}

func TestCollectorReadsTheFabricsCounters(t *testing.T) {
	f, a, b := runningFabric(t)
	bcast := make([]byte, 60)
	copy(bcast, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x00})
	a.Inject(bcast, make([]byte, 200)) // the second is too big for a's MTU
	if _, err := b.WaitWritten(1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.Ports()[0].Counters.Oversize == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	reg := metrics.NewRegistry(f)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	pa := map[string]string{"port": "a", "kind": "test"}
	pb := map[string]string{"port": "b", "kind": "test"}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"l2fabric_port_rx_frames_total", pa, 2},
		{"l2fabric_port_rx_bytes_total", pa, float64(f.Ports()[0].Counters.RxBytes)}, // as the backend reported the oversize frame
		{"l2fabric_port_tx_frames_total", pb, 1},
		{"l2fabric_port_tx_bytes_total", pb, 60},
		{"l2fabric_port_drops_total", map[string]string{"port": "a", "reason": "oversize"}, 1},
		{"l2fabric_port_drops_total", map[string]string{"port": "a", "reason": "runt"}, 0},
		{"l2fabric_port_up", pa, 1},
		{"l2fabric_port_fdb_entries", pa, 1},
		{"l2fabric_port_tx_queue_capacity_frames", pa, fabric.DefaultTxQueueLen},
		{"l2fabric_flooded_frames_total", nil, 1},
		{"l2fabric_fdb_entries", nil, 1},
		{"l2fabric_fdb_learned_total", nil, 1},
		{"l2fabric_fdb_max_entries", nil, 8192},
		{"l2fabric_ports", nil, 2},
	} {
		if got := value(t, mfs, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, name := range []string{"go_goroutines", "process_start_time_seconds"} {
		value(t, mfs, name, nil)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "l2fabric_") {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
}

func TestServerServesMetrics(t *testing.T) {
	f, _, _ := runningFabric(t)
	s, err := metrics.Listen("127.0.0.1:0", f, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	resp, err := http.Get("http://" + s.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `l2fabric_port_rx_frames_total{kind="test",port="a"} 0`) {
		t.Errorf("metrics page lacks port a's rx frames:\n%s", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if _, err := metrics.Listen("127.0.0.1:bad", f, nil); err == nil || !strings.Contains(err.Error(), "--metrics") {
		t.Errorf("a bad address: %v", err)
	}
}
