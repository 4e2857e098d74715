//go:build unix

package kafkasink

import (
	"syscall"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway/config"
)

// BenchmarkRenderKey measures rendering a record key alone, reusing the buffer: an MQTT-topic
// template against payload-field templates (a field early and one late in the 180-byte
// payload). Besides ns/op it reports cpu-ns/op, the process's CPU time per render, which a
// machine shared with other work inflates less than wall time:
//
//	go test -run '^$' -bench RenderKey -count 5 ./gateway/internal/kafkasink/
func BenchmarkRenderKey(b *testing.B) {
	tests := []struct{ name, key string }{
		{"segments", "{{.Segment 1}}-{{.Segment 4}}"},
		{"payload_first_field", `{{.Payload "device"}}`},
		{"payload_last_field", `{{.Payload "ok"}}`},
		{"payload_two_fields", `{{.Payload "device"}}-{{.Payload "room"}}`},
	}
	for _, tc := range tests {
		b.Run(tc.name, func(b *testing.B) {
			r := benchRoute(b, tc.name, config.Destination{Topic: "sensors", Key: tc.key})
			m := benchMessage()
			f := &payloadFields{Message: m, payload: m.Payload, route: r}
			buf := make([]byte, 0, 64)
			b.ReportAllocs()
			start := cpuTime()
			n := 0
			for b.Loop() {
				var err error
				if buf, err = r.key.Render(buf[:0], f); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(cpuTime()-start)/float64(n), "cpu-ns/op")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
