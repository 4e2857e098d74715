package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tributary-gw/tributary/cmd/tributary/internal/connectimport"
)

const importConnectUsage = `Usage: tributary import-connect FILE.json [-o FILE]

Turns a Kafka Connect MQTT source connector configuration into an equivalent Tributary
configuration, so users of that connector can move over in a minute. FILE.json is either
the Connect REST shape {"name": ..., "config": {...}} (what GET /connectors/NAME returns) or
a flat config object; "-" reads standard input.

Understood connectors:
  Confluent MQTT source (io.confluent.connect.mqtt.MqttSourceConnector): mqtt.server.uri,
    mqtt.topics, kafka.topic, mqtt.qos, mqtt.clean.session.enabled, mqtt.username,
    mqtt.password, mqtt.connect.timeout.seconds, mqtt.keepalive.interval.seconds, mqtt.ssl.*,
    confluent.topic.*
  Lenses Stream Reactor MQTT source: connect.mqtt.hosts, connect.mqtt.kcql (one route per
    "INSERT INTO kafka_topic SELECT * FROM mqtt/topic/+" statement; WITHKEY(f, ...) and
    KEYDELIMITER become a key from payload fields, to.key '{{.Payload "f"}}...'),
    connect.mqtt.service.quality, connect.mqtt.clean, connect.mqtt.client.id,
    connect.mqtt.username, connect.mqtt.password, connect.mqtt.keep.alive,
    connect.mqtt.timeout, connect.mqtt.ssl.*
  and for both: key.converter, value.converter, tasks.max, transforms, errors.*
    (errors.deadletterqueue.topic.name becomes every route's dead_letter topic; without it
    each route dead-letters to <kafka topic>_dlq).

Converters: ByteArrayConverter and StringConverter keep the payload as is; JsonConverter is
explained in a warning. Confluent's Schema Registry converters (AvroConverter,
ProtobufConverter, JsonSchemaConverter) become each route's to.value_schema (value.converter)
or to.key_schema (key.converter): format avro, protobuf or json_schema, subject <topic>-value
or <topic>-key (TopicNameStrategy; another strategy is a warning). Their settings become
kafka.schema_registry: *.converter.schema.registry.url (the first URL), basic.auth.* (the
user name; the password is never copied: set TRIBUTARY_KAFKA__SCHEMA_REGISTRY__PASSWORD),
bearer.auth.* (a static token, never copied: TRIBUTARY_KAFKA__SCHEMA_REGISTRY__TOKEN),
schema.registry.ssl.* (PEM stores become tls files; Java stores are explained),
auto.register.schemas (auto_register) and use.latest.version.

Keys that cannot be mapped are listed as warnings on stderr and as comments in the YAML.
Passwords and tokens are never copied: the YAML says which TRIBUTARY_* variable to set instead. File
paths (TLS certificates) are copied as written; in the YAML a relative path is relative to the
YAML file's folder. Check the result with 'tributary validate --config FILE'.

Flags:
  -o FILE   write the YAML to FILE instead of standard output
`

func init() {
	commands["import-connect"] = &command{summary: "convert a Kafka Connect MQTT source config to Tributary YAML",
		usage: importConnectUsage, run: importConnectCommand}
}

// importConnectCommand runs `tributary import-connect`; see importConnectUsage. The flag may
// come before or after the file name. It returns flag.ErrHelp after printing the usage for
// --help and a usageError for bad arguments.
func importConnectCommand(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("import-connect", importConnectUsage, stdout)
	out := fs.String("o", "", "")
	flagArgs, files := splitImportArgs(args)
	if err := parseFlags(fs, flagArgs); err != nil {
		return err
	}
	switch len(files) {
	case 0:
		return usageError{errors.New("the connector config FILE.json is required")}
	case 1:
	default:
		return usageError{fmt.Errorf("one FILE.json at a time, got %d", len(files))}
	}
	path := files[0]
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(io.LimitReader(os.Stdin, 8<<20))
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return fmt.Errorf("reading connector config: %w", err)
	}
	res, err := connectimport.Convert(data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if *out == "" {
		_, err = stdout.Write(res.YAML)
		return err
	}
	if err := os.WriteFile(*out, res.YAML, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", *out, err)
	}
	fmt.Fprintf(stderr, "wrote %s (%d warnings); check it with: tributary validate --config %s\n", *out, len(res.Warnings), *out)
	return nil
}

// splitImportArgs separates flags (with the value of -o) from file names, so the file may
// come first as the usage shows it; "-" is a file name (stdin) and "--" ends the flags.
func splitImportArgs(args []string) (flags, files []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return flags, append(files, args[i+1:]...)
		case a == "-" || !strings.HasPrefix(a, "-"):
			files = append(files, a)
		default:
			flags = append(flags, a)
			if name := strings.TrimLeft(a, "-"); name == "o" && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
		}
	}
	return flags, files
}
