/*
 * stamp: a C plugin that passes every message on unchanged and sets one Kafka
 * header on it, replacing any header of that name set by an earlier stage.
 *
 * Config: {"name": "HEADER", "value": "TEXT"}; name is required, value
 * defaults to "". Unknown keys fail init. See README.md.
 */
#include "tributary.h"

static trib_str name, value;

static int member(trib_str k, trib_str v) {
	if (trib_eq(k, "name")) {
		name = v;
	} else if (trib_eq(k, "value")) {
		value = v;
	} else {
		trib_errorf("config: unknown key \"", k, "\"");
		return 1;
	}
	return 0;
}

int trib_plugin_init(trib_str config) {
	if (trib_config_strings(config, member)) return -1;
	if (name.n == 0) {
		trib_errorf("config: name: a non-empty header name is required", (trib_str){0}, "");
		return -1;
	}
	return 0;
}

void trib_plugin_handle(const trib_msg *m) {
	trib_ok_begin();
	trib_out_begin(TRIB_UNCHANGED | TRIB_SET_HEADERS);
	trib_put_headers_set(m->headers, name, value);
	trib_ok_end();
}
