// The ABI conformance guest in AssemblyScript: the behaviours of
// sdk/ABI.md, "Appendix: conformance guest", written with the SDK in
// sdk/assemblyscript. plugins/internal/e2e/as_conformance_test.go builds it
// with asc (sdk/wasmbuild.ASBuild) and runs sdktest.Conformance on it.
import { handle, onInit, log, json, Config, Message, Outputs, Pair } from "../../../sdk/assemblyscript/assembly/index";
export * from "../../../sdk/assemblyscript/assembly/exports";

import { json_parse, json_get, json_float, json_edit, json_find, json_children } from "../../../sdk/assemblyscript/assembly/host";

@external("wasi_snapshot_preview1", "proc_exit")
declare function proc_exit(code: i32): void;

// The JSON imports the SDK does not wrap (its json.Edit covers them); sdk/ABI.md §2.1.
@external("tributary", "json_set")
declare function json_set(doc: usize, docLen: i32, path: usize, pathLen: i32, val: usize, valLen: i32, out: usize, outCap: i32): i64;
@external("tributary", "json_delete")
declare function json_delete(doc: usize, docLen: i32, path: usize, pathLen: i32, out: usize, outCap: i32): i64;
@external("tributary", "json_set_float")
declare function json_set_float(doc: usize, docLen: i32, path: usize, pathLen: i32, f: f64, out: usize, outCap: i32): i64;

onInit((c: Config): string | null => {
  c.only(["fail_init"]);
  const text = c.string("fail_init");
  if (c.error === null && text.length > 0) return text;
  return null;
});

const kept: ArrayBuffer[] = [];

function pairs(ps: Pair[]): string {
  let s = "[";
  for (let i = 0; i < ps.length; i++) {
    if (i > 0) s += ",";
    s += "[" + json.quote(ps[i].name) + "," + json.quote(ps[i].value) + "]";
  }
  return s + "]";
}

function meta(m: Message): string {
  const key = m.keyString();
  return "{\"topic\":" + json.quote(m.topic()) +
    ",\"content_type\":" + json.quote(m.contentType()) +
    ",\"route\":" + json.quote(m.route()) +
    ",\"tenant\":" + json.quote(m.tenant()) +
    ",\"qos\":" + m.qos.toString() +
    ",\"retain\":" + (m.retain ? "true" : "false") +
    ",\"arrived_at_ms\":" + m.arrivedAtMs.toString() +
    ",\"kafka_topic\":" + json.quote(m.kafkaTopic()) +
    ",\"key\":" + (key !== null ? json.quote(key) : "null") +
    ",\"properties\":" + pairs(m.properties()) +
    ",\"headers\":" + pairs(m.headers()) + "}";
}

// The json_* commands (sdk/ABI.md, "Appendix: conformance guest"): each calls one host
// import on bytes of the payload and answers a span or a written document as the payload,
// -1 as the error "not found", any other negative result as "malformed".

const NOT_FOUND: i64 = -1;

// jsonOut receives the documents json_set, json_delete, json_edit and json_set_float write:
// grown and called again when a result is larger than it (the result is then the size).
let jsonOut = new Uint8Array(256);

function room(n: i64): bool {
  if (n <= <i64>jsonOut.length) return true;
  let c = jsonOut.length;
  while (<i64>c < n) c *= 2;
  jsonOut = new Uint8Array(c);
  return false;
}

function bytesAt(ptr: usize, n: i32): Uint8Array {
  const b = new Uint8Array(n);
  memory.copy(b.dataStart, ptr, <usize>n);
  return b;
}

function spanPtr(base: usize, span: i64): usize {
  return base + <usize>(span >> 32);
}

function spanLen(span: i64): i32 {
  return <i32>(span & 0xffffffff);
}

function answer(m: Message, out: Outputs, r: i64, ptr: usize, n: i32): void {
  if (r == NOT_FOUND) {
    out.reject("not found");
  } else if (r < 0) {
    out.reject("malformed");
  } else {
    m.setPayload(bytesAt(ptr, n));
    out.emit(m);
  }
}

// indexOfByte returns the first (or, with last, the last) offset of c in the n bytes at p, or -1.
function indexOfByte(p: usize, n: i32, c: u8, last: bool = false): i32 {
  let found = -1;
  for (let i = 0; i < n; i++) {
    if (load<u8>(p + <usize>i) == c) {
      found = i;
      if (!last) break;
    }
  }
  return found;
}

function appendBytes(dst: Array<u8>, p: usize, n: i32): void {
  for (let i = 0; i < n; i++) dst.push(load<u8>(p + <usize>i));
}

function appendString(dst: Array<u8>, s: string): void {
  for (let i = 0; i < s.length; i++) dst.push(<u8>s.charCodeAt(i));
}

function emitBytes(m: Message, out: Outputs, b: Array<u8>): void {
  const u = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) u[i] = b[i];
  m.setPayload(u);
  out.emit(m);
}

function hexDigit(c: u8): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

function jsonCommand(cmd: string, m: Message, out: Outputs, arg: usize, argLen: i32): void {
  // PATH, then the rest after the first LF (all of it the path when there is none).
  const lf = indexOfByte(arg, argLen, 0x0a);
  const path = arg;
  const pathLen = lf < 0 ? argLen : lf;
  const rest = lf < 0 ? arg + <usize>argLen : arg + <usize>lf + 1;
  const restLen = lf < 0 ? 0 : argLen - lf - 1;
  let r: i64 = 0;
  if (cmd == "json_parse") {
    r = json_parse(arg, argLen);
    answer(m, out, r, spanPtr(arg, r), spanLen(r));
  } else if (cmd == "json_get") {
    r = json_get(rest, restLen, path, pathLen);
    answer(m, out, r, spanPtr(rest, r), spanLen(r));
  } else if (cmd == "json_set") {
    const lf2 = indexOfByte(rest, restLen, 0x0a);
    const valLen = lf2 < 0 ? restLen : lf2;
    const doc = lf2 < 0 ? rest + <usize>restLen : rest + <usize>lf2 + 1;
    const docLen = lf2 < 0 ? 0 : restLen - lf2 - 1;
    do {
      r = json_set(doc, docLen, path, pathLen, rest, valLen, jsonOut.dataStart, jsonOut.length);
    } while (r >= 0 && !room(r));
    answer(m, out, r, jsonOut.dataStart, <i32>r);
  } else if (cmd == "json_delete") {
    do {
      r = json_delete(rest, restLen, path, pathLen, jsonOut.dataStart, jsonOut.length);
    } while (r >= 0 && !room(r));
    answer(m, out, r, jsonOut.dataStart, <i32>r);
  } else if (cmd == "json_find") {
    const last = indexOfByte(arg, argLen, 0x0a, true);
    if (last < 0) {
      out.reject("json_find: no paths");
      return;
    }
    const doc = arg + <usize>last + 1;
    const docLen = argLen - last - 1;
    // The paths, each before an LF, as json_find takes them: a ULEB128 length, the bytes.
    const enc = new Array<u8>();
    let n = 0;
    let start = 0;
    for (let i = 0; i <= last; i++) {
      if (load<u8>(arg + <usize>i) != 0x0a) continue;
      let len = i - start;
      do {
        const b = <u8>(len & 0x7f);
        len >>>= 7;
        enc.push(b | (len != 0 ? 0x80 : 0));
      } while (len != 0);
      appendBytes(enc, arg + <usize>start, i - start);
      start = i + 1;
      n++;
    }
    const encBuf = new Uint8Array(enc.length);
    for (let i = 0; i < enc.length; i++) encBuf[i] = enc[i];
    const spans = new Int64Array(n);
    r = json_find(doc, docLen, encBuf.dataStart, encBuf.length, spans.dataStart, n);
    if (r < 0) {
      answer(m, out, r, 0, 0);
      return;
    }
    const b = new Array<u8>();
    appendBytes(b, spanPtr(doc, r), spanLen(r));
    for (let i = 0; i < n; i++) {
      b.push(0x0a);
      if (spans[i] < 0) b.push(0x2d);
      else appendBytes(b, spanPtr(doc, spans[i]), spanLen(spans[i]));
    }
    emitBytes(m, out, b);
  } else if (cmd == "json_children") {
    let spans = new Int64Array(16);
    let c = json_children(arg, argLen, spans.dataStart, spans.length);
    if (c > <i64>spans.length) {
      spans = new Int64Array(<i32>c);
      c = json_children(arg, argLen, spans.dataStart, spans.length);
    }
    if (c < 0) {
      answer(m, out, c, 0, 0);
      return;
    }
    const b = new Array<u8>();
    for (let i = 0; i < <i32>c; i++) {
      if (i > 0) b.push(0x20);
      appendString(b, (spans[i] >> 32).toString());
      b.push(0x3a);
      appendString(b, (spans[i] & 0xffffffff).toString());
    }
    emitBytes(m, out, b);
  } else if (cmd == "json_edit") {
    if (pathLen % 2 != 0) {
      out.reject("json_edit: program is not hex");
      return;
    }
    const prog = new Uint8Array(pathLen / 2);
    for (let i = 0; i < pathLen; i += 2) {
      const hi = hexDigit(load<u8>(path + <usize>i));
      const lo = hexDigit(load<u8>(path + <usize>i + 1));
      if (hi < 0 || lo < 0) {
        out.reject("json_edit: program is not hex");
        return;
      }
      prog[i / 2] = <u8>(hi << 4 | lo);
    }
    do {
      r = json_edit(rest, restLen, prog.dataStart, prog.length, jsonOut.dataStart, jsonOut.length);
    } while (r >= 0 && !room(r));
    answer(m, out, r, jsonOut.dataStart, <i32>r);
  } else { // json_float
    const f = json_float(arg, argLen);
    if (isNaN(f)) {
      out.reject("NaN");
      return;
    }
    const zero = new Uint8Array(1);
    zero[0] = 0x30;
    do {
      r = json_set_float(zero.dataStart, 1, 0, 0, f, jsonOut.dataStart, jsonOut.length);
    } while (r >= 0 && !room(r));
    answer(m, out, r, jsonOut.dataStart, <i32>r);
  }
}

handle((m: Message, out: Outputs): void => {
  // The payload may be binary (set:\x00\xff): split the bytes at the first
  // ':' and keep the argument as bytes.
  const p = m.payloadPtr();
  const n = m.payloadLength();
  let colon = -1;
  for (let i = 0; i < n; i++) {
    if (load<u8>(p + <usize>i) == 0x3a) {
      colon = i;
      break;
    }
  }
  const cmdLen = colon < 0 ? n : colon;
  const cmd = String.UTF8.decodeUnsafe(p, cmdLen, false);
  const argPtr = p + <usize>cmdLen + (colon < 0 ? 0 : 1);
  const argLen = colon < 0 ? 0 : n - colon - 1;
  const arg = String.UTF8.decodeUnsafe(argPtr, argLen, false);

  if (cmd.startsWith("json_") && (cmd == "json_parse" || cmd == "json_get" || cmd == "json_set" ||
      cmd == "json_delete" || cmd == "json_float" || cmd == "json_find" || cmd == "json_children" || cmd == "json_edit")) {
    jsonCommand(cmd, m, out, argPtr, argLen);
  } else if (cmd == "echo") {
    out.emit(m);
  } else if (cmd == "drop") {
    // no outputs: filtered
  } else if (cmd == "set") {
    const b = new Uint8Array(argLen);
    memory.copy(b.dataStart, argPtr, argLen);
    m.setPayload(b);
    out.emit(m);
  } else if (cmd == "split") {
    const count = I32.parseInt(arg);
    for (let i = 0; i < count; i++) {
      m.setPayloadString(i.toString());
      out.emit(m);
    }
  } else if (cmd == "error") {
    out.reject(arg);
  } else if (cmd == "topic") {
    m.setKafkaTopic(arg);
    out.emit(m);
  } else if (cmd == "key") {
    const b = new Uint8Array(argLen);
    memory.copy(b.dataStart, argPtr, argLen);
    m.setKey(b);
    out.emit(m);
  } else if (cmd == "header") {
    const eq = arg.indexOf("=");
    const name = eq < 0 ? arg : arg.substring(0, eq);
    const value = eq < 0 ? "" : arg.substring(eq + 1);
    m.setHeader(name, value);
    out.emit(m);
  } else if (cmd == "meta") {
    m.setPayloadString(meta(m));
    out.emit(m);
  } else if (cmd == "log") {
    const c = arg.indexOf(":");
    log(I32.parseInt(arg.substring(0, c)), arg.substring(c + 1));
    out.emit(m);
  } else if (cmd == "exit") {
    proc_exit(I32.parseInt(arg));
  } else if (cmd == "loop") {
    for (;;) {}
  } else if (cmd == "grow") {
    // 1 MiB at a time, so a failure happens with memory at its cap and the
    // host classifies the trap as out_of_memory.
    const mib = I32.parseInt(arg);
    for (let i = 0; i < mib; i++) kept.push(new ArrayBuffer(1 << 20));
    out.emit(m);
  } else {
    out.reject("unknown command \"" + cmd + "\"");
  }
});
