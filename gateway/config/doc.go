// Package config owns the gateway's typed configuration: the [Config] value, loading it in
// layers with koanf ([Load], [LoadBytes]), checking it as a whole ([Config.Validate]) and
// printing it with secrets hidden ([Config.Redacted], the output of `tributary validate`).
//
// # Layers
//
// [Default] first, then the YAML file, then the environment. Decoding is strict: an unknown
// key, a value of the wrong type or a bad duration is an error naming the full key path,
// such as "routes[0].to.topik: unknown key". After decoding, per-route defaults are filled in
// (qos 1 when the key is absent, to.key "{{.Topic}}", to.envelope "none", dead_letter
// "<to.topic>_dlq" when the topic is fixed) and every check runs; all problems of a file
// are reported together, joined with [errors.Join], each a [*KeyError].
//
// # Environment
//
// Variables named TRIBUTARY_<SECTION>__<KEY> set scalars and lists of scalars: "__"
// separates levels because keys contain "_", and names are lower-cased, so
// TRIBUTARY_MQTT__CLIENT_ID sets mqtt.client_id and TRIBUTARY_KAFKA__TLS__CA_FILE sets
// kafka.tls.ca_file. Lists are comma-separated (TRIBUTARY_KAFKA__BROKERS=a:9092,b:9092).
// Values are strings converted to the key's type: "true", "5", "250ms". Items inside routes
// cannot be set from the environment. A TRIBUTARY_ variable containing "__", or starting
// with a section name and "_" (a likely typo such as TRIBUTARY_MQTT_CLIENT_ID), that names
// no key is an error; other TRIBUTARY_ variables without "__" (for example
// TRIBUTARY_REQUIRE_MOSQUITTO, read by tests) are left alone. Only the environ slice passed
// to Load is read, never the process environment.
//
// # Secrets
//
// mqtt.password and kafka.sasl.password are of type [Secret]. They come from the file, the
// environment, or the file named by mqtt.password_file / kafka.sasl.password_file (trailing
// newline trimmed; setting both a password and its file is an error). A Secret prints as
// "[redacted]" through fmt, slog, JSON and YAML, and never appears in error text.
//
// # Paths
//
// Path keys are plugins.dir, plugins.cache_dir, tenants.dir and every key ending in _file
// (TLS files, password and token files). A relative path in the file, or a default such as
// plugins.dir's ./plugins, is relative to the folder of the config file, not to the working
// directory, so a configuration means the same wherever the gateway starts and on every
// reload; a tenant.yaml's are relative to its own folder. A relative path set from the
// environment is relative to the working directory, like a command-line flag; YAML given
// as bytes (LoadBytes) resolves against the working directory, or the folder passed to
// LoadBytesIn. The loaded Config holds absolute paths, and errors name them.
//
// # Errors with positions
//
// YAML that does not parse is a [*SyntaxError] naming the file and the line to fix (koanf's
// parser, go.yaml.in/yaml/v3, names the start of the enclosing block instead). A problem
// with a key written in the file loaded by [Load] names the file and the key's line
// ([KeyError.File], [KeyError.Line]), found from yaml/v3's node positions since koanf keeps
// none. An unknown key, environment variable or plugin name gets a "did you mean" with the
// closest known one.
//
// This package may import gateway/mqtttopic and no other package of this module.
package config
