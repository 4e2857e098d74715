/*
 * The ABI conformance guest in C: the behaviours of sdk/ABI.md, "Appendix:
 * conformance guest", written against the spec and sdk/c/tributary.h only.
 * The test in plugins/internal/e2e/c_conformance_test.go builds it with
 * clang --target=wasm32 and runs sdktest.Conformance on it.
 */
#include "tributary.h"

static int member(trib_str key, trib_str value) {
	if (trib_eq(key, "fail_init")) {
		if (value.n) {
			trib_errorf("", value, "");
			return 1;
		}
		return 0;
	}
	trib_errorf("config: unknown key \"", key, "\"");
	return 1;
}

int trib_plugin_init(trib_str config) { return trib_config_strings(config, member); }

static void put_pairs_json(trib_pairs ps) {
	const u8 *cur = ps.at;
	trib_put_u8('[');
	for (u32 i = 0; i < ps.n; i++) {
		trib_str k, v;
		trib_pairs_next(&cur, &k, &v);
		if (i) trib_put_u8(',');
		trib_put_u8('[');
		trib_put_json_str(k);
		trib_put_u8(',');
		trib_put_json_str(v);
		trib_put_u8(']');
	}
	trib_put_u8(']');
}

static void put_key(const char *name) {
	trib_put_u8(',');
	trib_put_json_str(trib_cstr(name));
	trib_put_u8(':');
}

/* meta answers with the message as this guest saw it. */
static void meta(const trib_msg *m) {
	trib_ok_begin();
	trib_out_begin(0);
	u32 at = trib_put_open();
	trib_put_raw("{\"topic\":", 9);
	trib_put_json_str(m->topic);
	put_key("content_type"), trib_put_json_str(m->content_type);
	put_key("route"), trib_put_json_str(m->route);
	put_key("tenant"), trib_put_json_str(m->tenant);
	put_key("qos"), trib_put_dec(m->qos);
	put_key("retain"), trib_put_raw(m->flags & TRIB_RETAIN ? "true" : "false", m->flags & TRIB_RETAIN ? 4 : 5);
	put_key("arrived_at_ms"), trib_put_dec(m->arrived_at_ms);
	put_key("kafka_topic"), trib_put_json_str(m->kafka_topic);
	put_key("key");
	if (m->flags & TRIB_KEY_SET) trib_put_json_str(m->key);
	else trib_put_raw("null", 4);
	put_key("properties"), put_pairs_json(m->properties);
	put_key("headers"), put_pairs_json(m->headers);
	trib_put_u8('}');
	trib_put_close(at);
	trib_ok_end();
}

static void echo(u8 flags) {
	trib_ok_begin();
	trib_out_begin(TRIB_UNCHANGED | flags);
}

static u8 *held; /* keeps "grow" memory reachable */

/* cut splits s at its first byte c: *head before it, *tail after it (empty
 * when s has no c). */
static void cut(trib_str s, u8 c, trib_str *head, trib_str *tail) {
	*head = s;
	*tail = (trib_str){s.p + s.n, 0};
	for (u32 i = 0; i < s.n; i++) {
		if (s.p[i] == c) {
			head->n = i;
			*tail = (trib_str){s.p + i + 1, s.n - i - 1};
			return;
		}
	}
}

/* json_out: a buffer for the documents the json_set family writes, reused
 * across calls and grown when a result needs more (ABI.md §2.1: the result
 * is the size; nothing is written when it exceeds out_cap). */
static u8 *json_out;
static u32 json_out_cap;

static int json_room(i64 n) {
	if (n <= json_out_cap) return 1;
	u32 c = json_out_cap ? json_out_cap : 256;
	while (c < n) c *= 2;
	u8 *p = trib_sbrk(c);
	if (!p) __builtin_trap(); /* out of memory (ABI.md §7) */
	json_out = p, json_out_cap = c;
	return 0;
}

/* json_answer answers a json_* command (ABI.md, "Appendix: conformance
 * guest"): r < 0 is an error; otherwise the n bytes at p are the payload. */
static void json_answer(i64 r, const u8 *p, u32 n) {
	if (r == TRIB_JSON_NOT_FOUND) {
		trib_reject(trib_cstr("not found"));
	} else if (r < 0) {
		trib_reject(trib_cstr("malformed"));
	} else {
		trib_ok_begin(), trib_out_begin(0), trib_put_str((trib_str){p, n}), trib_ok_end();
	}
}

/* spans: room for the i64 spans json_find and json_children write. */
static i64 *spans;
static u32 spans_cap;

static void spans_room(u32 n) {
	if (n <= spans_cap) return;
	spans = trib_sbrk(n * 8);
	if (!spans) __builtin_trap();
	spans_cap = n;
}

/* json_find_command: the paths are every LF-separated part of arg but the
 * last, the document; they are encoded as json_find takes them, in memory
 * never freed (as json_edit_command's program): fine for a test guest. */
static void json_find_command(trib_str arg) {
	u32 last = arg.n;
	while (last > 0 && arg.p[last - 1] != '\n') last--;
	if (last == 0) {
		trib_reject(trib_cstr("json_find: no paths"));
		return;
	}
	trib_str doc = {arg.p + last, arg.n - last}, paths = {arg.p, last}; /* each path ends in LF */
	u32 n = 0;
	for (u32 i = 0; i < paths.n; i++) n += paths.p[i] == '\n';
	/* The encoded list: a ULEB128 length before each path, at most 5 bytes each. */
	u8 *enc = trib_sbrk(paths.n + 5 * n);
	if (!enc) __builtin_trap();
	u32 e = 0, start = 0;
	for (u32 i = 0; i < paths.n; i++) {
		if (paths.p[i] != '\n') continue;
		u32 len = i - start;
		do {
			u8 b = len & 0x7f;
			len >>= 7;
			enc[e++] = b | (len ? 0x80 : 0);
		} while (len);
		memcpy(enc + e, paths.p + start, i - start);
		e += i - start;
		start = i + 1;
	}
	spans_room(n);
	i64 r = trib_json_find(doc.p, doc.n, enc, e, spans, n);
	if (r < 0) {
		json_answer(r, 0, 0);
		return;
	}
	trib_ok_begin(), trib_out_begin(0);
	u32 at = trib_put_open();
	trib_put_raw(doc.p + (r >> 32), (u32)r);
	for (u32 i = 0; i < n; i++) {
		trib_put_u8('\n');
		if (spans[i] < 0) trib_put_u8('-');
		else trib_put_raw(doc.p + (spans[i] >> 32), (u32)spans[i]);
	}
	trib_put_close(at);
	trib_ok_end();
}

static void json_children_command(trib_str val) {
	i64 c = trib_json_children(val.p, val.n, spans, spans_cap);
	if (c > spans_cap) {
		spans_room((u32)c);
		c = trib_json_children(val.p, val.n, spans, spans_cap);
	}
	if (c < 0) {
		json_answer(c, 0, 0);
		return;
	}
	trib_ok_begin(), trib_out_begin(0);
	u32 at = trib_put_open();
	for (i64 i = 0; i < c; i++) {
		if (i) trib_put_u8(' ');
		trib_put_dec(spans[i] >> 32);
		trib_put_u8(':');
		trib_put_dec(spans[i] & 0xffffffff);
	}
	trib_put_close(at);
	trib_ok_end();
}

static void json_edit_command(trib_str hex, trib_str doc) {
	u8 *prog = trib_sbrk(hex.n / 2 + 1);
	if (!prog) __builtin_trap();
	for (u32 i = 0; i + 1 < hex.n; i += 2) {
		int hi = trib_hex(hex.p[i]), lo = trib_hex(hex.p[i + 1]);
		if (hi < 0 || lo < 0 || hex.n % 2) {
			trib_reject(trib_cstr("json_edit: program is not hex"));
			return;
		}
		prog[i / 2] = (u8)(hi << 4 | lo);
	}
	i64 r;
	do r = trib_json_edit(doc.p, doc.n, prog, hex.n / 2, json_out, json_out_cap);
	while (r >= 0 && !json_room(r));
	json_answer(r, json_out, (u32)r);
}

static void json_command(trib_str cmd, trib_str arg) {
	trib_str path, rest, val, doc;
	cut(arg, '\n', &path, &rest);
	i64 r;
	if (trib_eq(cmd, "json_parse")) {
		r = trib_json_parse(arg.p, arg.n);
		json_answer(r, arg.p + (r >> 32), (u32)r);
	} else if (trib_eq(cmd, "json_get")) {
		r = trib_json_get(rest.p, rest.n, (const char *)path.p, path.n);
		json_answer(r, rest.p + (r >> 32), (u32)r);
	} else if (trib_eq(cmd, "json_set")) {
		cut(rest, '\n', &val, &doc);
		do r = trib_json_set(doc.p, doc.n, (const char *)path.p, path.n, val.p, val.n, json_out, json_out_cap);
		while (r >= 0 && !json_room(r));
		json_answer(r, json_out, (u32)r);
	} else if (trib_eq(cmd, "json_delete")) {
		do r = trib_json_delete(rest.p, rest.n, (const char *)path.p, path.n, json_out, json_out_cap);
		while (r >= 0 && !json_room(r));
		json_answer(r, json_out, (u32)r);
	} else if (trib_eq(cmd, "json_find")) {
		json_find_command(arg);
	} else if (trib_eq(cmd, "json_children")) {
		json_children_command(arg);
	} else if (trib_eq(cmd, "json_edit")) {
		json_edit_command(path, rest);
	} else { /* json_float */
		double f = trib_json_float(arg.p, arg.n);
		if (f != f) {
			trib_reject(trib_cstr("NaN"));
			return;
		}
		do r = trib_json_set_float("0", 1, "", 0, f, json_out, json_out_cap);
		while (r >= 0 && !json_room(r));
		json_answer(r, json_out, (u32)r);
	}
}

void trib_plugin_handle(const trib_msg *m) {
	trib_str cmd = m->payload, arg = {0};
	for (u32 i = 0; i < m->payload.n; i++) {
		if (m->payload.p[i] == ':') {
			cmd.n = i;
			arg = (trib_str){m->payload.p + i + 1, m->payload.n - i - 1};
			break;
		}
	}
	i64 n;
	if (trib_eq(cmd, "echo")) {
		echo(0), trib_ok_end();
	} else if (trib_eq(cmd, "drop")) {
		trib_ok_begin(), trib_ok_end();
	} else if (trib_eq(cmd, "set")) {
		trib_ok_begin(), trib_out_begin(0), trib_put_str(arg), trib_ok_end();
	} else if (trib_eq(cmd, "split") && trib_atoi(arg, &n) == 0 && n >= 0) {
		trib_ok_begin();
		for (i64 i = 0; i < n; i++) {
			trib_out_begin(0);
			u32 at = trib_put_open();
			trib_put_dec(i);
			trib_put_close(at);
		}
		trib_ok_end();
	} else if (trib_eq(cmd, "error")) {
		trib_reject(arg);
	} else if (trib_eq(cmd, "topic")) {
		echo(TRIB_SET_TOPIC), trib_put_str(arg), trib_ok_end();
	} else if (trib_eq(cmd, "key")) {
		echo(TRIB_SET_KEY), trib_put_str(arg), trib_ok_end();
	} else if (trib_eq(cmd, "header")) {
		trib_str name = arg, value = {0};
		for (u32 i = 0; i < arg.n; i++) {
			if (arg.p[i] == '=') {
				name.n = i;
				value = (trib_str){arg.p + i + 1, arg.n - i - 1};
				break;
			}
		}
		echo(TRIB_SET_HEADERS), trib_put_headers_set(m->headers, name, value), trib_ok_end();
	} else if (trib_eq(cmd, "meta")) {
		meta(m);
	} else if (trib_eq(cmd, "json_parse") || trib_eq(cmd, "json_get") || trib_eq(cmd, "json_set") ||
	           trib_eq(cmd, "json_delete") || trib_eq(cmd, "json_float") || trib_eq(cmd, "json_find") ||
	           trib_eq(cmd, "json_children") || trib_eq(cmd, "json_edit")) {
		json_command(cmd, arg);
	} else if (trib_eq(cmd, "log")) {
		trib_str level = arg, text = {0};
		for (u32 i = 0; i < arg.n; i++) {
			if (arg.p[i] == ':') {
				level.n = i;
				text = (trib_str){arg.p + i + 1, arg.n - i - 1};
				break;
			}
		}
		if (trib_atoi(level, &n)) n = TRIB_INFO;
		trib_log((i32)n, text);
		echo(0), trib_ok_end();
	} else if (trib_eq(cmd, "exit")) {
		if (trib_atoi(arg, &n)) n = 1;
		trib_proc_exit((i32)n);
	} else if (trib_eq(cmd, "loop")) {
		for (volatile int spin = 0;; spin++) {
		}
	} else if (trib_eq(cmd, "grow") && trib_atoi(arg, &n) == 0 && n >= 0 && n < 4096) {
		/* 1 MiB at a time, so a failure happens with memory at its cap
		 * and the host classifies the trap as out_of_memory. */
		for (i64 i = 0; i < n; i++) {
			held = trib_sbrk(1u << 20);
			if (!held) __builtin_trap();
			memset(held, 1, 1u << 20);
		}
		echo(0), trib_ok_end();
	} else {
		trib_errorf("unknown command \"", cmd, "\"");
		trib_reject((trib_str){(const u8 *)trib_err, trib_err_n});
	}
}
