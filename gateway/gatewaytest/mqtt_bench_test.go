package gatewaytest

import (
	"fmt"
	"testing"
)

// BenchmarkPublisher measures how fast a Publisher gets acknowledged traffic
// into a real Mosquitto: 1000 messages over 100 topics per iteration.
func BenchmarkPublisher(b *testing.B) {
	for _, qos := range []byte{0, 1, 2} {
		b.Run(fmt.Sprintf("qos%d", qos), func(b *testing.B) {
			mq := Mosquitto(b)
			pub := NewPublisher(b, mq.URL())
			msgs := Messages(Topics("bench/%03d", 100), 1000)
			b.ReportAllocs()
			for b.Loop() {
				if err := pub.Publish(b.Context(), qos, msgs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(msgs)), "ns/msg")
		})
	}
}
