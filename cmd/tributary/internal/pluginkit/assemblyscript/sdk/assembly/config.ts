// The plugin's configuration: the route stage's config, a JSON object,
// read through the host's JSON imports (sdk/ABI.md §2.1, §5).
import { json_parse, json_get, json_float, json_children } from "./host";
import { text } from "./bytes";
import { unquote, escapeKey, spanOffset, spanLength } from "./json";

/**
 * The configuration handed to init hooks. Getters take a member name (or a
 * path, "a.b", for nested members) and a default for when it is absent; a
 * member of the wrong type records an error naming it (the first one is
 * kept in error) and returns the default. The init fails with that error.
 */
export class Config {
  private buf: Uint8Array;
  /** The first error found: malformed JSON, not an object, a wrong type, an unknown key. */
  error: string | null = null;

  constructor(ptr: usize, len: i32) {
    this.buf = new Uint8Array(len);
    memory.copy(this.buf.dataStart, ptr, len);
    const s = json_parse(this.buf.dataStart, len);
    if (s < 0) this.fail("config: malformed JSON");
    else if (load<u8>(this.buf.dataStart + <usize>spanOffset(s)) != 0x7b) this.fail("config: want a JSON object");
  }

  /** Records err unless an error was recorded before. */
  fail(err: string): void {
    if (this.error === null) this.error = err;
  }

  /** The configuration as JSON text. */
  toString(): string {
    return text(this.buf.dataStart, this.buf.length);
  }

  /** The JSON text of the member at path, or null when absent. */
  raw(path: string): string | null {
    const s = this.span(path);
    return s < 0 ? null : text(this.buf.dataStart + <usize>spanOffset(s), spanLength(s));
  }

  /** Whether the member at path exists. */
  has(path: string): bool {
    return this.span(path) >= 0;
  }

  /** The string at path, or def when absent. */
  string(path: string, def: string = ""): string {
    const s = this.span(path);
    if (s < 0) return def;
    const v = unquote(this.buf.dataStart + <usize>spanOffset(s), spanLength(s));
    if (v === null) {
      this.fail("config: " + path + ": want a string");
      return def;
    }
    return v;
  }

  /** The number at path, or def when absent. */
  number(path: string, def: f64 = 0): f64 {
    const s = this.span(path);
    if (s < 0) return def;
    const f = json_float(this.buf.dataStart + <usize>spanOffset(s), spanLength(s));
    if (isNaN(f)) {
      this.fail("config: " + path + ": want a number");
      return def;
    }
    return f;
  }

  /** The boolean at path, or def when absent. */
  bool(path: string, def: bool = false): bool {
    const r = this.raw(path);
    if (r === null) return def;
    if (r == "true") return true;
    if (r == "false") return false;
    this.fail("config: " + path + ": want true or false");
    return def;
  }

  /** The array of strings at path, or an empty array when absent. */
  strings(path: string): string[] {
    const out: string[] = [];
    const s = this.span(path);
    if (s < 0) return out;
    const at = this.buf.dataStart + <usize>spanOffset(s);
    const n = spanLength(s);
    if (load<u8>(at) != 0x5b) {
      this.fail("config: " + path + ": want an array of strings");
      return out;
    }
    const spans = children(at, n);
    for (let i = 0; i < spans.length; i++) {
      const v = unquote(at + <usize>spanOffset(spans[i]), spanLength(spans[i]));
      if (v === null) {
        this.fail("config: " + path + "." + i.toString() + ": want a string");
        return [];
      }
      out.push(v);
    }
    return out;
  }

  /** The names of the top-level members, in order. */
  keys(): string[] {
    const out: string[] = [];
    if (this.error !== null && this.span("") < 0) return out;
    const whole = this.span("");
    const at = this.buf.dataStart + <usize>spanOffset(whole);
    if (load<u8>(at) != 0x7b) return out;
    const spans = children(at, spanLength(whole));
    for (let i = 0; i < spans.length; i += 2) {
      const k = unquote(at + <usize>spanOffset(spans[i]), spanLength(spans[i]));
      out.push(k !== null ? k : "");
    }
    return out;
  }

  /** Records an error for the first top-level member not in allowed: typos surface at load time. Returns whether all were allowed. */
  only(allowed: string[]): bool {
    const ks = this.keys();
    for (let i = 0; i < ks.length; i++) {
      if (!allowed.includes(ks[i])) {
        this.fail("config: unknown key \"" + ks[i] + "\"");
        return false;
      }
    }
    return true;
  }

  private span(path: string): i64 {
    const p = String.UTF8.encode(path, false);
    return json_get(this.buf.dataStart, this.buf.length, changetype<usize>(p), p.byteLength);
  }
}

/** The child spans of the JSON object or array at [at, at+n) (json_children), relative to at. */
export function children(at: usize, n: i32): Int64Array {
  let spans = new Int64Array(16);
  let c = json_children(at, n, spans.dataStart, spans.length);
  if (c > <i64>spans.length) {
    spans = new Int64Array(<i32>c);
    c = json_children(at, n, spans.dataStart, spans.length);
  }
  if (c < 0) return new Int64Array(0);
  return spans.subarray(0, <i32>c);
}

/** Escapes a top-level member name for use as a path. */
export function member(name: string): string {
  return escapeKey(name);
}
