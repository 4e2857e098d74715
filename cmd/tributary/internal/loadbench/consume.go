package loadbench

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// consume reads topics from the start until ctx is done, handing every record to tr; with dec
// (a run with a schema) each record is decoded by dec first.
// Reading from the start, with the run id in every payload, means nothing is missed however
// late the consumer joins, and an earlier run's records are told apart.
func consume(ctx context.Context, brokers []string, topics []string, tr *tracker, dec *schemaDecoder, ready chan<- struct{}) error {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond),
		kgo.AllowAutoTopicCreation(),
		kgo.MetadataMinAge(100*time.Millisecond),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	close(ready)
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		now := time.Now()
		fs.EachRecord(func(r *kgo.Record) {
			if dec != nil {
				f, ok := dec.decode(r.Value)
				tr.note(f, ok, now)
				return
			}
			tr.record(r.Value, now)
		})
	}
}
