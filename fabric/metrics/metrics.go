// Package metrics exposes a fabric's counters to Prometheus.
//
// A Collector reads the fabric's own counters (Ports and Stats, the
// atomic counters the forwarding path keeps anyway) at scrape time: there
// is no second set of counters to keep in step, and nothing is done
// between scrapes. NewHandler serves them on a registry of their own,
// with the Go runtime and process collectors, and no global state.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/l2fabric/l2fabric/fabric"
)

// Source is what the collector reads: a *fabric.Fabric.
type Source interface {
	Ports() []fabric.PortInfo
	Stats() fabric.Stats
}

// Collector is a prometheus.Collector for a fabric.
type Collector struct {
	src Source
}

// NewCollector returns a Collector reading src at each scrape.
func NewCollector(src Source) *Collector { return &Collector{src: src} }

var portLabels = []string{"port", "kind"}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("l2fabric_"+name, help, labels, nil)
}

// The metrics, named as Prometheus's conventions ask: base units, _total
// for counters.
var (
	portRxFrames = desc("port_rx_frames_total", "Frames read from the port.", portLabels...)
	portRxBytes  = desc("port_rx_bytes_total", "Bytes read from the port.", portLabels...)
	portTxFrames = desc("port_tx_frames_total", "Frames sent through the port.", portLabels...)
	portTxBytes  = desc("port_tx_bytes_total", "Bytes sent through the port.", portLabels...)
	portDrops    = desc("port_drops_total", "Frames dropped on the port, by reason (receive-side reasons on the ingress port, transmit-side on the egress port).", "port", "kind", "reason")
	portTxQueued = desc("port_tx_queue_frames", "Frames waiting in the port's transmit queue.", portLabels...)
	portTxQueue  = desc("port_tx_queue_capacity_frames", "Length of the port's transmit queue.", portLabels...)
	portTxWaits  = desc("port_tx_waits_total", "Times a sender waited for room in the port's full transmit queue (flow control).", portLabels...)
	portUp       = desc("port_up", "1 when the port's link is up, 0 when down (or a device listening for clients).", portLabels...)
	portFDB      = desc("port_fdb_entries", "Learning-table entries on the port, static ones included.", portLabels...)

	ports          = desc("ports", "Ports attached.")
	forwarded      = desc("forwarded_frames_total", "Frames sent to the one port their destination was learned on.")
	flooded        = desc("flooded_frames_total", "Broadcast, multicast and unknown unicast frames flooded to their VLAN.")
	filtered       = desc("filtered_frames_total", "Frames not sent because their destination lives on the port they came from.")
	fdbEntries     = desc("fdb_entries", "Learning-table entries, static ones included.")
	fdbMax         = desc("fdb_max_entries", "The learning table's size limit.")
	fdbStatic      = desc("fdb_static_entries", "Static learning-table entries.")
	fdbLearned     = desc("fdb_learned_total", "MAC addresses learned.")
	fdbMoved       = desc("fdb_moved_total", "Learned MAC addresses that moved to another port.")
	fdbExpired     = desc("fdb_expired_total", "Learned entries aged out.")
	fdbEvicted     = desc("fdb_evicted_total", "Learned entries evicted to make room.")
	fdbAging       = desc("fdb_aging_seconds", "The learning table's aging time.")
	uptime         = desc("uptime_seconds", "Time since the fabric started.")
	allDescriptors = []*prometheus.Desc{
		portRxFrames, portRxBytes, portTxFrames, portTxBytes, portDrops, portTxQueued, portTxQueue, portTxWaits, portUp, portFDB,
		ports, forwarded, flooded, filtered, fdbEntries, fdbMax, fdbStatic, fdbLearned, fdbMoved, fdbExpired, fdbEvicted, fdbAging, uptime,
	}
)

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescriptors {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, p := range c.src.Ports() {
		k := p.Counters
		counter(portRxFrames, k.RxFrames, p.Name, p.Kind)
		counter(portRxBytes, k.RxBytes, p.Name, p.Kind)
		counter(portTxFrames, k.TxFrames, p.Name, p.Kind)
		counter(portTxBytes, k.TxBytes, p.Name, p.Kind)
		for _, d := range k.DropCounts() {
			counter(portDrops, d.Count, p.Name, p.Kind, d.Reason)
		}
		gauge(portTxQueued, float64(p.TxQueued), p.Name, p.Kind)
		gauge(portTxQueue, float64(p.TxQueueLen), p.Name, p.Kind)
		counter(portTxWaits, k.TxWaits, p.Name, p.Kind)
		up := 0.0
		if p.State == "up" {
			up = 1
		}
		gauge(portUp, up, p.Name, p.Kind)
		gauge(portFDB, float64(p.FDB), p.Name, p.Kind)
	}
	s := c.src.Stats()
	gauge(ports, float64(s.Ports))
	counter(forwarded, s.Fabric.Forwarded)
	counter(flooded, s.Fabric.Flooded)
	counter(filtered, s.Fabric.Filtered)
	gauge(fdbEntries, float64(s.FDB.Current))
	gauge(fdbMax, float64(s.FDB.Max))
	gauge(fdbStatic, float64(s.FDB.Static))
	counter(fdbLearned, s.FDB.Learned)
	counter(fdbMoved, s.FDB.Moved)
	counter(fdbExpired, s.FDB.Expired)
	counter(fdbEvicted, s.FDB.Evicted)
	gauge(fdbAging, s.FDBAging)
	gauge(uptime, s.Uptime)
}

// NewRegistry returns a registry of its own holding a Collector for src
// and the Go runtime and process collectors.
func NewRegistry(src Source) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		NewCollector(src),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// NewHandler returns the HTTP handler of /metrics for src.
func NewHandler(src Source, log hclog.Logger) http.Handler {
	opts := promhttp.HandlerOpts{}
	if log != nil {
		opts.ErrorLog = log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})
	}
	return promhttp.HandlerFor(NewRegistry(src), opts)
}

// Server serves /metrics over HTTP.
type Server struct {
	ln  net.Listener
	srv *http.Server
}

// Listen listens on addr (HOST:PORT; bind it to 127.0.0.1 unless the
// metrics should be visible to the network) for Serve.
func Listen(addr string, src Source, log hclog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics %s: %w (want HOST:PORT, e.g. 127.0.0.1:9470)", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", NewHandler(src, log))
	return &Server{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve answers scrapes until ctx is done.
func (s *Server) Serve(ctx context.Context) error {
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			s.srv.Shutdown(shut)
		case <-done:
		}
	}()
	if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
