package kafkasink

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/tributary-gw/tributary/gateway/config"
)

// kafkaOptions maps the kafka section of the configuration to franz-go options.
func kafkaOptions(kc config.Kafka) ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(kc.Brokers...),
		kgo.ClientID(kc.ClientID),
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotence is on by default and needs acks=all
		kgo.ProducerLinger(kc.Linger),
		kgo.ProducerBatchMaxBytes(int32(kc.BatchMaxBytes)),
		kgo.ProduceRequestTimeout(kc.RequestTimeout),
		kgo.MaxBufferedRecords(100_000),
		// Ask for missing topics to be created; the broker's auto.create.topics.enable decides.
		kgo.AllowAutoTopicCreation(),
	}
	switch strings.ToLower(kc.Compression) {
	case "", "none":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.NoCompression()))
	case "gzip":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.GzipCompression()))
	case "snappy":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.SnappyCompression()))
	case "lz4":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	case "zstd":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	default:
		return nil, fmt.Errorf("kafka.compression: unknown codec %q", kc.Compression)
	}
	if kc.TLS.Enabled {
		tc, err := kc.TLS.ClientConfig("kafka.tls")
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if kc.SASL.Mechanism != "" {
		m, err := saslMechanism(kc.SASL)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

func saslMechanism(s config.SASL) (sasl.Mechanism, error) {
	pass := s.Password.Value()
	switch strings.ToUpper(s.Mechanism) {
	case "PLAIN":
		return plain.Auth{User: s.Username, Pass: pass}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: s.Username, Pass: pass}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: s.Username, Pass: pass}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("kafka.sasl.mechanism: unknown mechanism %q", s.Mechanism)
}

// ClientOptions maps the kafka section to franz-go options (brokers, client id, producer
// settings, TLS, SASL) for the gateway's other Kafka clients: a reverse route's consumer,
// which also produces its dead letters.
func ClientOptions(kc config.Kafka) ([]kgo.Opt, error) { return kafkaOptions(kc) }
