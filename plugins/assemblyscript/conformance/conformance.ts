// The ABI conformance guest in AssemblyScript: the behaviours of
// sdk/ABI.md, "Appendix: conformance guest", written with the SDK in
// sdk/assemblyscript. plugins/internal/e2e/as_conformance_test.go builds it
// with asc (sdk/wasmbuild.ASBuild) and runs sdktest.Conformance on it.
import { handle, onInit, log, json, Config, Message, Outputs, Pair } from "../../../sdk/assemblyscript/assembly/index";
export * from "../../../sdk/assemblyscript/assembly/exports";

@external("wasi_snapshot_preview1", "proc_exit")
declare function proc_exit(code: i32): void;

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

  if (cmd == "echo") {
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
