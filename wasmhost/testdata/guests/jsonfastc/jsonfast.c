/* jsonfast.c: the jsonfast guest in C, on the optional JSON host imports
 * (sdk/ABI.md §2.1) through sdk/c/tributary.h: reads the number at "value"
 * and writes "value_f" (the value in Fahrenheit). It proves the imports are
 * usable from the spec alone, without the Go SDK. */
#include "tributary.h"

static u8 *out;
static u32 out_cap;

int trib_plugin_init(trib_str config) {
	(void)config;
	return 0;
}

void trib_plugin_handle(const trib_msg *m) {
	i64 r = trib_json_get(m->payload.p, m->payload.n, "value", 5);
	if (r < 0) {
		trib_reject(trib_cstr(r == TRIB_JSON_NOT_FOUND ? "no field value" : "malformed JSON"));
		return;
	}
	double c = trib_json_float(m->payload.p + (r >> 32), (u32)r);
	if (c != c) {
		trib_reject(trib_cstr("field value is not a number"));
		return;
	}
	for (;;) {
		i64 n = trib_json_set_float(m->payload.p, m->payload.n, "value_f", 7, c * 9 / 5 + 32, out, out_cap);
		if (n < 0) {
			trib_reject(trib_cstr("cannot set value_f"));
			return;
		}
		if ((u64)n <= out_cap) {
			trib_ok_begin();
			trib_out_begin(0);
			trib_put_str((trib_str){out, (u32)n});
			trib_ok_end();
			return;
		}
		out_cap = (u32)n * 2; /* too small: grow (never freed) and call again */
		out = trib_sbrk(out_cap);
		if (!out) {
			trib_reject(trib_cstr("out of memory"));
			return;
		}
	}
}
