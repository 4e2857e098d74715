// JSON field access through the host's native JSON imports (sdk/ABI.md
// §2.1): one host call reads or rewrites any number of fields, far faster
// than scanning JSON in wasm. Paths are dot-separated object keys and array
// indexes ("a.b.0"), with \. and \\ escaping a dot and a backslash in a key;
// "" is the whole document.
import { json_get, json_float, json_edit, json_find, json_parse, JSON_NOT_FOUND } from "./host";
import { Message } from "./message";
import { text } from "./bytes";

/** Result of a lookup: not found. */
export const NOT_FOUND: i64 = JSON_NOT_FOUND;

/** The offset of a span (off<<32 | len) returned by the JSON imports. */
export function spanOffset(span: i64): i32 {
  return <i32>(span >>> 32);
}

/** The length of a span returned by the JSON imports. */
export function spanLength(span: i64): i32 {
  return <i32>(span & 0xffff_ffff);
}

/** Escapes a single object key for use in a path ("a.b" -> "a\.b"). */
export function escapeKey(key: string): string {
  if (key.indexOf(".") < 0 && key.indexOf("\\") < 0) return key;
  return key.replaceAll("\\", "\\\\").replaceAll(".", "\\.");
}

/** The span of the value at path in the n-byte document at doc, NOT_FOUND (-1) or -2 when malformed. */
export function getSpan(doc: usize, n: i32, path: string): i64 {
  const p = String.UTF8.encode(path, false);
  return json_get(doc, n, changetype<usize>(p), p.byteLength);
}

/** The JSON text of the value at path in m's payload, or null when absent or malformed. */
export function getRaw(m: Message, path: string): string | null {
  const doc = m.payloadPtr();
  const s = getSpan(doc, m.payloadLength(), path);
  if (s < 0) return null;
  return text(doc + <usize>spanOffset(s), spanLength(s));
}

/** The string at path in m's payload, unescaped, or null when absent or not a string. */
export function getString(m: Message, path: string): string | null {
  const doc = m.payloadPtr();
  const s = getSpan(doc, m.payloadLength(), path);
  if (s < 0) return null;
  return unquote(doc + <usize>spanOffset(s), spanLength(s));
}

/** The number at path in m's payload, or NaN when absent or not a number. */
export function getNumber(m: Message, path: string): f64 {
  const doc = m.payloadPtr();
  const s = getSpan(doc, m.payloadLength(), path);
  if (s < 0) return NaN;
  return json_float(doc + <usize>spanOffset(s), spanLength(s));
}

/** The JSON number in the n bytes at val as the nearest f64, NaN when it is not a number. */
export function parseNumber(val: usize, n: i32): f64 {
  return json_float(val, n);
}

/** Whether the n bytes at doc are exactly one valid JSON value (surrounding whitespace allowed). */
export function valid(doc: usize, n: i32): bool {
  return json_parse(doc, n) >= 0;
}

/**
 * A fixed list of paths looked up together with one host call (json_find),
 * built once (for example from the configuration) and used per message.
 */
export class Paths {
  prog: Uint8Array;
  /** The number of paths. */
  count: i32;
  spans: Int64Array;

  constructor(paths: string[]) {
    let n = 0;
    const enc = new Array<ArrayBuffer>(paths.length);
    for (let i = 0; i < paths.length; i++) {
      enc[i] = String.UTF8.encode(paths[i], false);
      n += ulebSize(enc[i].byteLength) + enc[i].byteLength;
    }
    this.prog = new Uint8Array(n);
    this.count = paths.length;
    this.spans = new Int64Array(max(paths.length, 1));
    let at = this.prog.dataStart;
    for (let i = 0; i < enc.length; i++) {
      at = putUleb(at, enc[i].byteLength);
      memory.copy(at, changetype<usize>(enc[i]), enc[i].byteLength);
      at += <usize>enc[i].byteLength;
    }
  }

  /**
   * Validates the n-byte document at doc in full and looks up every path;
   * span(i) then gives each one's span or NOT_FOUND. Returns false when the
   * document is malformed.
   */
  find(doc: usize, n: i32): bool {
    return json_find(doc, n, this.prog.dataStart, this.prog.length, this.spans.dataStart, this.count) >= 0;
  }

  /** find on m's current payload. */
  findIn(m: Message): bool {
    return this.find(m.payloadPtr(), m.payloadLength());
  }

  /** The span of the i-th path's value after find, or NOT_FOUND. */
  span(i: i32): i64 {
    return unchecked(this.spans[i]);
  }
}

const OP_SET: u8 = 1;
const OP_SET_FLOAT: u8 = 2;
const OP_SET_DEFAULT: u8 = 3;
const OP_DELETE: u8 = 4;
const OP_MOVE: u8 = 5;
const OP_SELECT: u8 = 6;

/**
 * A batch of JSON edits (an edit program, sdk/ABI.md §2.1) applied with one
 * host call. Build it once when the edits are fixed, or reset and rebuild
 * it per message; its buffers are kept.
 */
export class Edit {
  private prog: Uint8Array = new Uint8Array(64);
  private n: i32 = 0;
  private out: ArrayBuffer = new ArrayBuffer(1024);
  /** The number of operations added since the last reset. */
  ops: i32 = 0;

  /** Removes every operation. */
  reset(): this {
    this.n = 0;
    this.ops = 0;
    return this;
  }

  /** Sets the value at path to the JSON text raw (created with the objects leading to it when missing). */
  set(path: string, raw: string): this {
    this.op(OP_SET, path);
    this.str(raw);
    return this;
  }

  /** Sets the value at path to the string s. */
  setString(path: string, s: string): this {
    return this.set(path, quote(s));
  }

  /** Sets the value at path to the number f, formatted as Go's encoding/json does (NaN and infinities fail the edit). */
  setNumber(path: string, f: f64): this {
    this.op(OP_SET_FLOAT, path);
    const at = this.reserve(8);
    store<f64>(at, f);
    return this;
  }

  /** Sets the value at path to raw unless the path exists. */
  setDefault(path: string, raw: string): this {
    this.op(OP_SET_DEFAULT, path);
    this.str(raw);
    return this;
  }

  /** Removes the value at path; an absent path changes nothing. */
  delete(path: string): this {
    this.op(OP_DELETE, path);
    return this;
  }

  /** Moves the value at path to toPath when it exists. */
  move(path: string, toPath: string): this {
    this.op(OP_MOVE, path);
    this.str(toPath);
    return this;
  }

  /** Keeps only the values at paths (the document becomes a new object holding them). */
  select(paths: string[]): this {
    const at = this.reserve(1);
    store<u8>(at, OP_SELECT);
    this.uleb(paths.length);
    for (let i = 0; i < paths.length; i++) this.str(paths[i]);
    this.ops++;
    return this;
  }

  /** Appends every operation of other (built once, for example at init): a copy of its bytes. */
  add(other: Edit): this {
    memory.copy(this.reserve(other.n), other.prog.dataStart, other.n);
    this.ops += other.ops;
    return this;
  }

  /**
   * Applies the edits to the n-byte document at doc. Returns the new
   * document's length, its bytes at resultPtr() until the next apply; or -1
   * when the document is malformed or an edit is impossible.
   */
  apply(doc: usize, n: i32): i32 {
    let r = json_edit(doc, n, this.prog.dataStart, this.n, changetype<usize>(this.out), this.out.byteLength);
    if (r > <i64>this.out.byteLength) {
      this.out = new ArrayBuffer(<i32>r + (<i32>r >> 2));
      r = json_edit(doc, n, this.prog.dataStart, this.n, changetype<usize>(this.out), this.out.byteLength);
    }
    return r < 0 ? -1 : <i32>r;
  }

  /** Where the last apply wrote its result. */
  resultPtr(): usize {
    return changetype<usize>(this.out);
  }

  /**
   * Applies the edits to m's payload and sets the result as its payload.
   * Returns false (m unchanged) when the payload is not JSON or an edit is
   * impossible. The new payload lives in this Edit's buffer: emit m before
   * the next apply.
   */
  applyTo(m: Message): bool {
    const n = this.apply(m.payloadPtr(), m.payloadLength());
    if (n < 0) return false;
    m.setPayload(Uint8Array.wrap(this.out, 0, n));
    return true;
  }

  private op(code: u8, path: string): void {
    store<u8>(this.reserve(1), code);
    this.str(path);
    this.ops++;
  }

  private str(s: string): void {
    const len = String.UTF8.byteLength(s, false);
    this.uleb(len);
    const at = this.reserve(len);
    String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, at, false);
  }

  private uleb(v: i32): void {
    putUleb(this.reserve(ulebSize(v)), v);
  }

  private reserve(k: i32): usize {
    if (this.n + k > this.prog.length) {
      let c = this.prog.length * 2;
      while (c < this.n + k) c *= 2;
      const grown = new Uint8Array(c);
      memory.copy(grown.dataStart, this.prog.dataStart, this.n);
      this.prog = grown;
    }
    const at = this.prog.dataStart + <usize>this.n;
    this.n += k;
    return at;
  }
}

function ulebSize(v: i32): i32 {
  let n = 1;
  let u = <u32>v;
  while (u >= 0x80) {
    u >>= 7;
    n++;
  }
  return n;
}

function putUleb(at: usize, v: i32): usize {
  let u = <u32>v;
  while (u >= 0x80) {
    store<u8>(at++, <u8>(u | 0x80));
    u >>= 7;
  }
  store<u8>(at++, <u8>u);
  return at;
}

/** Returns s as a JSON string literal: quotes, backslashes and control characters escaped. */
export function quote(s: string): string {
  let out = "\"";
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c != 0x22 && c != 0x5c) continue;
    out += s.substring(from, i);
    if (c == 0x22) out += "\\\"";
    else if (c == 0x5c) out += "\\\\";
    else if (c == 0x0a) out += "\\n";
    else if (c == 0x0d) out += "\\r";
    else if (c == 0x09) out += "\\t";
    else out += "\\u00" + (c < 0x10 ? "0" : "") + c.toString(16);
    from = i + 1;
  }
  return out + s.substring(from) + "\"";
}

/**
 * Decodes the JSON string token in the n bytes at p (with its quotes), or
 * returns null when it is not a string. The host has already validated it.
 */
export function unquote(p: usize, n: i32): string | null {
  if (n < 2 || load<u8>(p) != 0x22 || load<u8>(p + <usize>n - 1) != 0x22) return null;
  const body = p + 1;
  const bn = n - 2;
  let plain = true;
  for (let i = 0; i < bn; i++) {
    if (load<u8>(body + <usize>i) == 0x5c) {
      plain = false;
      break;
    }
  }
  if (plain) return text(body, bn);
  let out = "";
  let from = 0;
  let i = 0;
  while (i < bn) {
    if (load<u8>(body + <usize>i) != 0x5c) {
      i++;
      continue;
    }
    out += text(body + <usize>from, i - from);
    const e = load<u8>(body + <usize>i + 1);
    i += 2;
    if (e == 0x75) { // \uXXXX
      out += String.fromCharCode(<i32>hex4(body + <usize>i));
      i += 4;
    } else if (e == 0x6e) out += "\n";
    else if (e == 0x74) out += "\t";
    else if (e == 0x72) out += "\r";
    else if (e == 0x62) out += "\b";
    else if (e == 0x66) out += "\f";
    else out += String.fromCharCode(e); // \" \\ \/
    from = i;
  }
  return out + text(body + <usize>from, bn - from);
}

function hex4(p: usize): u32 {
  let v: u32 = 0;
  for (let i = 0; i < 4; i++) {
    const c = <u32>load<u8>(p + <usize>i);
    v <<= 4;
    if (c >= 0x30 && c <= 0x39) v |= c - 0x30;
    else if (c >= 0x61 && c <= 0x66) v |= c - 0x61 + 10;
    else v |= c - 0x41 + 10;
  }
  return v;
}
