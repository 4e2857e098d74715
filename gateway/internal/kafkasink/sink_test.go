package kafkasink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRefusesRecord pins which produce errors dead-letter a message (Kafka
// refused the record itself) and which make the sink produce it again
// (everything about the connection or the cluster's state): a good
// message must never be dead-lettered because Kafka was unreachable.
func TestRefusesRecord(t *testing.T) {
	retried := []error{
		io.EOF,
		errors.New("broker closed the connection immediately during api versions negotiation"),
		&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED},
		syscall.ECONNRESET,
		kgo.ErrRecordTimeout,
		kgo.ErrRecordRetries,
		context.DeadlineExceeded,
		kerr.NotLeaderForPartition,
		kerr.RequestTimedOut,
		kerr.NotEnoughReplicas,
		kerr.UnknownTopicID, // the topic was recreated: purged and produced again (recreate.go)
		fmt.Errorf("produce: %w", io.ErrUnexpectedEOF),
	}
	for _, err := range retried {
		if refusesRecord(err) {
			t.Errorf("%v: dead-letters the message, want it produced again", err)
		}
	}
	for _, err := range recordRefusals {
		for _, e := range []error{err, fmt.Errorf("partition 3: %w", err)} {
			if !refusesRecord(e) {
				t.Errorf("%v: produced again, want the message dead-lettered", e)
			}
		}
	}
}
