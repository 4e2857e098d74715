/* jsonbatch.c: a C guest on the batched JSON imports (sdk/ABI.md §2.1)
 * through sdk/c/tributary.h alone. For each payload it finds "value" and
 * "tags" with one json_find, counts the elements of "tags" with
 * json_children, then with one json_edit sets "n_tags" to that count,
 * moves "value" to "reading" and deletes "rssi". Fields it does not find
 * are errors. */
#include "tributary.h"

static u8 out[4096];
static i64 spans[64];

/* put appends the ULEB128 length of s and s to the program at p. */
static u32 put(u8 *p, u32 at, const char *s, u32 n) {
	p[at++] = (u8)n; /* every string here is shorter than 128 bytes */
	for (u32 i = 0; i < n; i++) p[at++] = (u8)s[i];
	return at;
}

int trib_plugin_init(trib_str config) {
	(void)config;
	return 0;
}

void trib_plugin_handle(const trib_msg *m) {
	static const u8 paths[] = {5, 'v', 'a', 'l', 'u', 'e', 4, 't', 'a', 'g', 's'};
	i64 found[2];
	if (trib_json_find(m->payload.p, m->payload.n, paths, sizeof paths, found, 2) < 0) {
		trib_reject(trib_cstr("malformed JSON"));
		return;
	}
	if (found[0] < 0 || found[1] < 0) {
		trib_reject(trib_cstr("no value or tags"));
		return;
	}
	i64 c = trib_json_children(m->payload.p + (found[1] >> 32), (u32)found[1], spans, 64);
	if (c < 0 || c > 9) {
		trib_reject(trib_cstr("tags is not a short array"));
		return;
	}
	u8 prog[64];
	u32 at = 0;
	char digit = (char)('0' + c);
	prog[at++] = TRIB_EDIT_SET;
	at = put(prog, at, "n_tags", 6);
	at = put(prog, at, &digit, 1);
	prog[at++] = TRIB_EDIT_MOVE;
	at = put(prog, at, "value", 5);
	at = put(prog, at, "reading", 7);
	prog[at++] = TRIB_EDIT_DELETE;
	at = put(prog, at, "rssi", 4);
	i64 n = trib_json_edit(m->payload.p, m->payload.n, prog, at, out, sizeof out);
	if (n < 0 || (u64)n > sizeof out) {
		trib_reject(trib_cstr("cannot edit"));
		return;
	}
	trib_ok_begin();
	trib_out_begin(0);
	trib_put_str((trib_str){out, (u32)n});
	trib_ok_end();
}
