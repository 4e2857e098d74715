package gateway

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway/config"
)

// routesConfig writes a configuration file with n plugin-less routes, each on its own
// filters (an exact one and a wildcard one) and Kafka topic, and returns its path.
func routesConfig(tb testing.TB, n int) string {
	tb.Helper()
	var b strings.Builder
	b.WriteString("mqtt:\n  url: tcp://127.0.0.1:1\nkafka:\n  brokers: [127.0.0.1:1]\nroutes:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - name: r%d\n    from: [\"site/%d/+/temp\", \"site/%d/alarm/#\"]\n    to: {topic: t%d}\n", i, i, i, i)
	}
	path := filepath.Join(tb.TempDir(), "tributary.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// cpuTime returns the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLoadRoutes measures loading a configuration of many routes as a start does: the
// file read, decoded and validated (config.Load), the gateway built (its flows' route tables,
// gateway.New, which connects to nothing) and the flow's subscription list. Besides the
// wall time it reports the process's CPU time per load (cpu-ms/op, garbage collection
// included), steadier on a busy machine, and the wall time of the two parts.
//
//	go test -run '^$' -bench LoadRoutes -benchtime 3x ./gateway/
func BenchmarkLoadRoutes(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			path := routesConfig(b, n)
			var loading, building time.Duration
			cpu0 := cpuTime()
			for b.Loop() {
				start := time.Now()
				cfg, err := config.Load(path, nil)
				if err != nil {
					b.Fatal(err)
				}
				loaded := time.Now()
				g, err := New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				if subs := g.flows[""].Table().Subscriptions(); len(subs) != 2*n {
					b.Fatalf("%d subscriptions, want %d", len(subs), 2*n)
				}
				loading, building = loading+loaded.Sub(start), building+time.Since(loaded)
				b.StopTimer()
				g.sink.Close()
				g.closeRoutes()
				b.StartTimer()
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
			b.ReportMetric(float64(loading.Milliseconds())/float64(b.N), "config-ms/op")
			b.ReportMetric(float64(building.Milliseconds())/float64(b.N), "build-ms/op")
		})
	}
}
