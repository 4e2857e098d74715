/*
 * tributary.h: a single-header, freestanding implementation of the guest side
 * of the Tributary plugin ABI v1 (sdk/ABI.md) for C plugins compiled with
 * clang --target=wasm32 and wasm-ld, without libc or wasi-libc.
 *
 * It provides the required exports (memory, tributary_abi_v1,
 * tributary_alloc, tributary_init, tributary_handle), a bump allocator over
 * linear memory, memcpy/memset, an input frame reader, a result frame
 * writer, a flat JSON configuration reader and the tributary.log import.
 *
 * A plugin includes this header in exactly one .c file and defines:
 *
 *   int  trib_plugin_init(trib_str config);  // 0 = ok; else set trib_errorf
 *   void trib_plugin_handle(const trib_msg *m); // emit exactly one result
 *
 * A result is emitted with trib_reject(...) (status 1) or with
 * trib_ok_begin(), zero or more trib_out_begin(flags) each followed by the
 * fields the flags announce in ABI order (trib_put_str,
 * trib_put_headers_set and friends), then trib_ok_end().
 *
 * Memory: nothing is ever freed. The input buffer stays the host's until the
 * host calls tributary_alloc again (ABI.md §6): the result is written into a
 * separate output buffer. Both are reused across calls and grow; trib_sbrk
 * allocations made while handling a message should be avoided or bounded.
 * trib_msg fields point into the input frame: copy what you keep past the
 * call. See sdk/C.md.
 */
#ifndef TRIBUTARY_H
#define TRIBUTARY_H

typedef unsigned char u8;
typedef unsigned int u32;
typedef int i32;
typedef unsigned long long u64;
typedef long long i64;
typedef __SIZE_TYPE__ size_t;

#define TRIB_EXPORT(name) __attribute__((export_name(name)))
#define TRIB_IMPORT(mod, name) __attribute__((import_module(mod), import_name(name)))

/* ---- host imports (only the ones a plugin uses are linked) ---- */

TRIB_IMPORT("tributary", "log") void trib_log_raw(i32 level, const void *p, i32 n);
TRIB_IMPORT("wasi_snapshot_preview1", "proc_exit") _Noreturn void trib_proc_exit(i32 code);

/* Optional native JSON field access (ABI.md §2.1; §2.1.1 is what they accept
 * and write: duplicate keys, depth, escapes, numbers). Spans are off<<32 | len
 * inside the document; sizes are >= 0; TRIB_JSON_NOT_FOUND (-1) and
 * TRIB_JSON_MALFORMED (-2) are failures. json_set, json_set_float and
 * json_delete write the new document at out only when its size (the result)
 * is <= out_cap; call again with a larger buffer otherwise. */
enum { TRIB_JSON_NOT_FOUND = -1, TRIB_JSON_MALFORMED = -2 };
TRIB_IMPORT("tributary", "json_parse") i64 trib_json_parse(const void *doc, u32 doc_len);
TRIB_IMPORT("tributary", "json_get") i64 trib_json_get(const void *doc, u32 doc_len, const char *path, u32 path_len);
TRIB_IMPORT("tributary", "json_float") double trib_json_float(const void *val, u32 val_len);
TRIB_IMPORT("tributary", "json_set") i64 trib_json_set(const void *doc, u32 doc_len, const char *path, u32 path_len,
                                                       const void *val, u32 val_len, void *out, u32 out_cap);
TRIB_IMPORT("tributary", "json_set_float") i64 trib_json_set_float(const void *doc, u32 doc_len, const char *path,
                                                                   u32 path_len, double f, void *out, u32 out_cap);
TRIB_IMPORT("tributary", "json_delete") i64 trib_json_delete(const void *doc, u32 doc_len, const char *path, u32 path_len,
                                                             void *out, u32 out_cap);
/* Batched calls (ABI.md §2.1). json_edit applies an edit program (opcode
 * bytes below, each followed by ULEB128-length-prefixed paths and values)
 * and sizes its result as json_set. json_find writes n little-endian i64
 * spans (-1 when absent) for n ULEB128-length-prefixed paths and returns
 * the document's span. json_children writes the spans of an array's
 * elements, or of each member's key then value, relative to val, when
 * their count (the result) is <= out_cap. */
enum {
	TRIB_EDIT_SET = 1,         /* path, value */
	TRIB_EDIT_SET_FLOAT = 2,   /* path, 8 bytes little-endian float64 */
	TRIB_EDIT_SET_DEFAULT = 3, /* path, value */
	TRIB_EDIT_DELETE = 4,      /* path */
	TRIB_EDIT_MOVE = 5,        /* path, to-path */
	TRIB_EDIT_SELECT = 6       /* count, count paths */
};
TRIB_IMPORT("tributary", "json_edit") i64 trib_json_edit(const void *doc, u32 doc_len, const void *prog, u32 prog_len,
                                                         void *out, u32 out_cap);
TRIB_IMPORT("tributary", "json_find") i64 trib_json_find(const void *doc, u32 doc_len, const void *paths, u32 paths_len,
                                                         i64 *out, u32 n);
TRIB_IMPORT("tributary", "json_children") i64 trib_json_children(const void *val, u32 val_len, i64 *out, u32 out_cap);

enum { TRIB_DEBUG = 0, TRIB_INFO = 1, TRIB_WARN = 2, TRIB_ERROR = 3 };

/* ---- libc pieces the compiler may call (lowered to bulk-memory ops) ---- */

void *memcpy(void *dst, const void *src, size_t n) {
	__builtin_memcpy(dst, src, n); /* memory.copy with -mbulk-memory */
	return dst;
}
void *memmove(void *dst, const void *src, size_t n) {
	__builtin_memmove(dst, src, n);
	return dst;
}
void *memset(void *dst, int c, size_t n) {
	__builtin_memset(dst, c, n); /* memory.fill with -mbulk-memory */
	return dst;
}

static u32 trib_strlen(const char *s) {
	u32 n = 0;
	while (s[n]) n++;
	return n;
}

/* ---- bump allocator ---- */

extern u8 __heap_base;
static u32 trib_heap_top;

/* trib_sbrk returns n bytes (16-aligned) of fresh memory, growing linear
 * memory when needed, or 0 when memory cannot grow. Never freed. */
static void *trib_sbrk(u32 n) {
	if (trib_heap_top == 0) trib_heap_top = (u32)(size_t)&__heap_base;
	u32 start = (trib_heap_top + 15u) & ~15u;
	u64 end = (u64)start + n;
	u64 have = (u64)__builtin_wasm_memory_size(0) * 65536u;
	if (end > have) {
		u64 pages = (end - have + 65535u) / 65536u;
		if (__builtin_wasm_memory_grow(0, (size_t)pages) == (size_t)-1) return 0;
	}
	trib_heap_top = (u32)end;
	return (void *)(size_t)start;
}

/* ---- strings ---- */

typedef struct {
	const u8 *p;
	u32 n;
} trib_str;

static trib_str trib_cstr(const char *s) { return (trib_str){(const u8 *)s, trib_strlen(s)}; }

static int trib_eq(trib_str a, const char *b) {
	u32 n = trib_strlen(b);
	if (a.n != n) return 0;
	for (u32 i = 0; i < n; i++)
		if (a.p[i] != (u8)b[i]) return 0;
	return 1;
}

static int trib_same(trib_str a, trib_str b) {
	if (a.n != b.n) return 0;
	for (u32 i = 0; i < a.n; i++)
		if (a.p[i] != b.p[i]) return 0;
	return 1;
}

static void trib_log(i32 level, trib_str s) { trib_log_raw(level, s.p, (i32)s.n); }

/* ---- error text for init failures and rejections ---- */

static char trib_err[512];
static u32 trib_err_n;

static void trib_err_add(const u8 *p, u32 n) {
	for (u32 i = 0; i < n && trib_err_n < sizeof trib_err; i++) trib_err[trib_err_n++] = (char)p[i];
}

/* trib_errorf sets the error text to the concatenation of up to three parts
 * (a C string, a trib_str, a C string); pass "" or (trib_str){0} to skip. */
static void trib_errorf(const char *a, trib_str b, const char *c) {
	trib_err_n = 0;
	trib_err_add((const u8 *)a, trib_strlen(a));
	trib_err_add(b.p, b.n);
	trib_err_add((const u8 *)c, trib_strlen(c));
}

/* ---- input frame (ABI.md §3) ---- */

typedef struct {
	u32 n;       /* number of pairs */
	const u8 *at; /* first pair's encoding */
} trib_pairs;

typedef struct {
	trib_str topic, payload, content_type, route, tenant;
	u8 qos, flags; /* flags bit 0 retain, bit 1 key set */
	i64 arrived_at_ms;
	trib_str kafka_topic, key;
	trib_pairs properties, headers;
} trib_msg;

enum { TRIB_RETAIN = 1, TRIB_KEY_SET = 2 };

typedef struct {
	const u8 *p, *end;
} trib_reader;

/* The host validates what it sends; a frame that does not decode traps. */
static u32 trib_r_u32(trib_reader *r) {
	if (r->end - r->p < 4) __builtin_trap();
	u32 v = (u32)r->p[0] | (u32)r->p[1] << 8 | (u32)r->p[2] << 16 | (u32)r->p[3] << 24;
	r->p += 4;
	return v;
}

static u8 trib_r_u8(trib_reader *r) {
	if (r->end - r->p < 1) __builtin_trap();
	return *r->p++;
}

static trib_str trib_r_str(trib_reader *r) {
	u32 n = trib_r_u32(r);
	if ((u32)(r->end - r->p) < n) __builtin_trap();
	trib_str s = {r->p, n};
	r->p += n;
	return s;
}

static trib_pairs trib_r_pairs(trib_reader *r) {
	trib_pairs ps = {trib_r_u32(r), 0};
	ps.at = r->p;
	for (u32 i = 0; i < ps.n; i++) {
		trib_r_str(r);
		trib_r_str(r);
	}
	return ps;
}

static u32 trib_load_u32(const u8 *p) {
	return (u32)p[0] | (u32)p[1] << 8 | (u32)p[2] << 16 | (u32)p[3] << 24;
}

/* trib_pairs_next reads the pair at *cur (start with ps.at, call ps.n times)
 * into *name and *value and advances *cur. The pairs were bounds-checked
 * when the message was read. */
static void trib_pairs_next(const u8 **cur, trib_str *name, trib_str *value) {
	const u8 *p = *cur;
	name->n = trib_load_u32(p);
	name->p = p + 4;
	p += 4 + name->n;
	value->n = trib_load_u32(p);
	value->p = p + 4;
	*cur = p + 4 + value->n;
}

static void trib_r_msg(trib_reader *r, trib_msg *m) {
	m->topic = trib_r_str(r);
	m->payload = trib_r_str(r);
	m->content_type = trib_r_str(r);
	m->route = trib_r_str(r);
	m->tenant = trib_r_str(r);
	m->qos = trib_r_u8(r);
	m->flags = trib_r_u8(r);
	u64 lo = trib_r_u32(r), hi = trib_r_u32(r);
	m->arrived_at_ms = (i64)(lo | hi << 32);
	m->kafka_topic = trib_r_str(r);
	m->key = trib_r_str(r);
	m->properties = trib_r_pairs(r);
	m->headers = trib_r_pairs(r);
}

/* ---- result frame (ABI.md §4) ---- */

enum {
	TRIB_UNCHANGED = 1 << 0,  /* payload unchanged: no payload field */
	TRIB_SET_TOPIC = 1 << 1,  /* kafka_topic field follows */
	TRIB_SET_KEY = 1 << 2,    /* key field follows */
	TRIB_SET_HEADERS = 1 << 3 /* headers field follows */
};

static u8 *trib_out;
static u32 trib_out_n, trib_out_cap;
static u32 trib_count_at, trib_count; /* open result's output count */

static void trib_reserve(u32 n) {
	if (trib_out_n + n <= trib_out_cap) return;
	u32 c = trib_out_cap ? trib_out_cap * 2 : 4096;
	while (c < trib_out_n + n) c *= 2;
	u8 *p = trib_sbrk(c);
	if (!p) __builtin_trap(); /* out of memory */
	if (trib_out_n) memcpy(p, trib_out, trib_out_n);
	trib_out = p;
	trib_out_cap = c;
}

static void trib_put_u8(u8 v) {
	trib_reserve(1);
	trib_out[trib_out_n++] = v;
}

static void trib_put_u32(u32 v) {
	trib_reserve(4);
	u8 *p = trib_out + trib_out_n;
	p[0] = (u8)v, p[1] = (u8)(v >> 8), p[2] = (u8)(v >> 16), p[3] = (u8)(v >> 24);
	trib_out_n += 4;
}

static void trib_set_u32(u32 at, u32 v) {
	u8 *p = trib_out + at;
	p[0] = (u8)v, p[1] = (u8)(v >> 8), p[2] = (u8)(v >> 16), p[3] = (u8)(v >> 24);
}

/* trib_put_raw appends bytes without a length prefix (for building a
 * payload piecewise after trib_put_open). */
static void trib_put_raw(const void *p, u32 n) {
	trib_reserve(n);
	if (n) memcpy(trib_out + trib_out_n, p, n);
	trib_out_n += n;
}

/* trib_put_str appends a length-prefixed string. */
static void trib_put_str(trib_str s) {
	trib_put_u32(s.n);
	trib_put_raw(s.p, s.n);
}

/* trib_put_open starts a string whose length is not known yet; append its
 * bytes with trib_put_raw and friends, then call trib_put_close(at). */
static u32 trib_put_open(void) {
	u32 at = trib_out_n;
	trib_put_u32(0);
	return at;
}

static void trib_put_close(u32 at) { trib_set_u32(at, trib_out_n - at - 4); }

/* trib_put_headers_set appends a pairs field: the pairs of in without any
 * named name, in order, then name=value (the SetHeader semantics). */
static void trib_put_headers_set(trib_pairs in, trib_str name, trib_str value) {
	u32 at = trib_out_n, n = 0;
	trib_put_u32(0);
	const u8 *cur = in.at;
	for (u32 i = 0; i < in.n; i++) {
		trib_str k, v;
		trib_pairs_next(&cur, &k, &v);
		if (trib_same(k, name)) continue;
		trib_put_str(k);
		trib_put_str(v);
		n++;
	}
	trib_put_str(name);
	trib_put_str(value);
	trib_set_u32(at, n + 1);
}

/* trib_reject emits status 1 with error text e for the current message. */
static void trib_reject(trib_str e) {
	trib_put_u8(1);
	trib_put_str(e);
}

/* trib_ok_begin opens a status-0 result; trib_ok_end closes it. */
static void trib_ok_begin(void) {
	trib_put_u8(0);
	trib_count_at = trib_out_n;
	trib_count = 0;
	trib_put_u32(0);
}

/* trib_out_begin starts one output with flags; the caller then appends, in
 * this order, the payload (unless TRIB_UNCHANGED), kafka_topic, key and
 * headers the flags announce. */
static void trib_out_begin(u8 flags) {
	trib_count++;
	trib_put_u8(flags);
}

static void trib_ok_end(void) { trib_set_u32(trib_count_at, trib_count); }

/* ---- decimal helpers ---- */

/* trib_put_dec appends v in decimal without a length prefix. */
static void trib_put_dec(i64 v) {
	char b[24];
	u32 i = sizeof b;
	u64 u = v < 0 ? (u64)0 - (u64)v : (u64)v;
	do {
		b[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0) b[--i] = '-';
	trib_put_raw(b + i, sizeof b - i);
}

/* trib_atoi parses an optionally signed decimal; 0 on success. */
static int trib_atoi(trib_str s, i64 *out) {
	u32 i = 0;
	int neg = 0;
	i64 v = 0;
	if (s.n && s.p[0] == '-') neg = 1, i = 1;
	if (i == s.n || s.n - i > 18) return -1;
	for (; i < s.n; i++) {
		if (s.p[i] < '0' || s.p[i] > '9') return -1;
		v = v * 10 + (s.p[i] - '0');
	}
	*out = neg ? -v : v;
	return 0;
}

/* trib_put_json_str appends s as a JSON string (quotes, backslashes and
 * control characters escaped; other bytes copied as they are). */
static void trib_put_json_str(trib_str s) {
	static const char hex[] = "0123456789abcdef";
	trib_put_u8('"');
	for (u32 i = 0; i < s.n; i++) {
		u8 c = s.p[i];
		if (c == '"' || c == '\\') {
			trib_put_u8('\\');
			trib_put_u8(c);
		} else if (c < 0x20) {
			char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			trib_put_raw(e, 6);
		} else {
			trib_put_u8(c);
		}
	}
	trib_put_u8('"');
}

/* ---- flat JSON configuration: an object whose members are strings ---- */

typedef int (*trib_member_fn)(trib_str key, trib_str value);

static u32 trib_ws(trib_str s, u32 i) {
	while (i < s.n && (s.p[i] == ' ' || s.p[i] == '\t' || s.p[i] == '\n' || s.p[i] == '\r')) i++;
	return i;
}

static int trib_hex(u8 c) {
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* trib_json_string reads the JSON string at s.p[*i] into fresh memory
 * (unescaped, UTF-8); returns 0 on success. */
static int trib_json_string(trib_str s, u32 *i, trib_str *out) {
	if (*i >= s.n || s.p[*i] != '"') return -1;
	u8 *d = trib_sbrk(s.n - *i); /* unescaped text is never longer */
	if (!d) return -1;
	u32 n = 0, j = *i + 1;
	while (j < s.n && s.p[j] != '"') {
		u8 c = s.p[j++];
		if (c < 0x20) return -1;
		if (c != '\\') {
			d[n++] = c;
			continue;
		}
		if (j >= s.n) return -1;
		c = s.p[j++];
		switch (c) {
		case '"': case '\\': case '/': d[n++] = c; break;
		case 'b': d[n++] = '\b'; break;
		case 'f': d[n++] = '\f'; break;
		case 'n': d[n++] = '\n'; break;
		case 'r': d[n++] = '\r'; break;
		case 't': d[n++] = '\t'; break;
		case 'u': {
			if (s.n - j < 4) return -1;
			u32 cp = 0;
			for (int k = 0; k < 4; k++) {
				int h = trib_hex(s.p[j++]);
				if (h < 0) return -1;
				cp = cp << 4 | (u32)h;
			}
			if (cp >= 0xd800 && cp < 0xe000) return -1; /* surrogates: not supported */
			if (cp < 0x80) d[n++] = (u8)cp;
			else if (cp < 0x800) d[n++] = (u8)(0xc0 | cp >> 6), d[n++] = (u8)(0x80 | (cp & 0x3f));
			else d[n++] = (u8)(0xe0 | cp >> 12), d[n++] = (u8)(0x80 | (cp >> 6 & 0x3f)), d[n++] = (u8)(0x80 | (cp & 0x3f));
			break;
		}
		default: return -1;
		}
	}
	if (j >= s.n) return -1;
	*i = j + 1;
	*out = (trib_str){d, n};
	return 0;
}

/* trib_config_walk is one pass of trib_config_strings; fn may be 0. */
static int trib_config_walk(trib_str cfg, trib_member_fn fn) {
	u32 i = trib_ws(cfg, 0);
	if (i >= cfg.n || cfg.p[i] != '{') {
		trib_errorf("config: want a JSON object", (trib_str){0}, "");
		return -1;
	}
	i = trib_ws(cfg, i + 1);
	if (i < cfg.n && cfg.p[i] == '}') {
		if (trib_ws(cfg, i + 1) == cfg.n) return 0;
		trib_errorf("config: malformed JSON: data after the object", (trib_str){0}, "");
		return -1;
	}
	for (;;) {
		trib_str k, v;
		if (trib_json_string(cfg, &i, &k)) {
			trib_errorf("config: malformed JSON, want a member name", (trib_str){0}, "");
			return -1;
		}
		i = trib_ws(cfg, i);
		if (i >= cfg.n || cfg.p[i] != ':') {
			trib_errorf("config: malformed JSON after key \"", k, "\"");
			return -1;
		}
		i = trib_ws(cfg, i + 1);
		if (trib_json_string(cfg, &i, &v)) {
			trib_errorf("config: ", k, ": want a string");
			return -1;
		}
		if (fn && fn(k, v)) return -1;
		i = trib_ws(cfg, i);
		if (i < cfg.n && cfg.p[i] == ',') {
			i = trib_ws(cfg, i + 1);
			continue;
		}
		if (i < cfg.n && cfg.p[i] == '}' && trib_ws(cfg, i + 1) == cfg.n) return 0;
		trib_errorf("config: malformed JSON after key \"", k, "\"");
		return -1;
	}
}

/* trib_config_strings checks that cfg is a JSON object whose member values
 * are all strings, then calls fn for each member in order; fn returns
 * non-zero (after trib_errorf) to stop. Returns 0 on success; on malformed
 * JSON, a non-string value or an error from fn it sets the error text and
 * returns -1. Keys and values are unescaped into memory that is never
 * freed, so call it from trib_plugin_init only. */
static int trib_config_strings(trib_str cfg, trib_member_fn fn) {
	if (trib_config_walk(cfg, 0)) return -1;
	return trib_config_walk(cfg, fn);
}

/* ---- the exports ---- */

int trib_plugin_init(trib_str config);
void trib_plugin_handle(const trib_msg *m);

static u8 *trib_in;
static u32 trib_in_cap;

TRIB_EXPORT("tributary_abi_v1") void tributary_abi_v1(void) {}

/* tributary_alloc lends [p, p+size) to the host until its next
 * tributary_alloc call (ABI.md §6): the same buffer while it is large
 * enough, else a fresh one; 0 when memory cannot grow (out_of_memory). */
TRIB_EXPORT("tributary_alloc") u8 *tributary_alloc(u32 size) {
	if (size <= trib_in_cap && trib_in) return trib_in;
	u8 *p = trib_sbrk(size);
	if (!p) return 0;
	trib_in = p;
	trib_in_cap = size;
	return p;
}

static u64 trib_pack(const void *p, u32 n) { return (u64)(u32)(size_t)p << 32 | n; }

TRIB_EXPORT("tributary_init") u64 tributary_init(const u8 *p, u32 n) {
	trib_err_n = 0;
	if (trib_plugin_init((trib_str){p, n}) == 0) return 0;
	if (trib_err_n == 0) trib_errorf("init failed", (trib_str){0}, "");
	return trib_pack(trib_err, trib_err_n);
}

TRIB_EXPORT("tributary_handle") u64 tributary_handle(const u8 *p, u32 n) {
	trib_reader r = {p, p + n};
	if (trib_r_u32(&r) != 1) __builtin_trap(); /* frame version */
	u32 count = trib_r_u32(&r);
	trib_out_n = 0;
	trib_put_u32(1);
	trib_put_u32(count);
	for (u32 i = 0; i < count; i++) {
		trib_msg m;
		trib_r_msg(&r, &m);
		trib_plugin_handle(&m);
	}
	return trib_pack(trib_out, trib_out_n);
}

#endif /* TRIBUTARY_H */
