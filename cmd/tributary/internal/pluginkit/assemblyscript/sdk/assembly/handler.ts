import * as w from "./writer";
import { Message } from "./message";
import { Config } from "./config";

const OUT_PAYLOAD_UNCHANGED: u8 = 1;
const OUT_KAFKA_TOPIC: u8 = 2;
const OUT_KEY: u8 = 4;
const OUT_HEADERS: u8 = 8;

/**
 * Where a handler sends its results for one message: every emit adds an
 * output, reject dead-letters the message. Emitting nothing filters the
 * message out.
 */
export class Outputs {
  start: i32 = 0; // where this message's result begins in the frame
  countAt: i32 = 0; // where its output count is
  count: u32 = 0;
  rejected: bool = false;

  begin(): void {
    this.start = w.size();
    this.rejected = false;
    this.count = 0;
    w.putU8(0); // status ok
    this.countAt = w.size();
    w.putU32(0);
  }

  /**
   * Adds m, as it is now, as an output: only what the handler changed is
   * sent (an unchanged payload is not copied). Change m and emit it again
   * to split one message into several. Ignored after reject.
   */
  emit(m: Message): void {
    if (this.rejected) return;
    let flags: u8 = m.payloadSet ? 0 : OUT_PAYLOAD_UNCHANGED;
    if (m.topicSet) flags |= OUT_KAFKA_TOPIC;
    if (m.keySet) flags |= OUT_KEY;
    if (m.headersSet) flags |= OUT_HEADERS;
    w.putU8(flags);
    if (m.payloadSet) {
      const p = m.newPayload!;
      w.bytes(p.dataStart, p.length);
    }
    if (m.topicSet) w.str(m.newKafkaTopic);
    if (m.keySet) {
      const k = m.newKey!;
      w.bytes(k.dataStart, k.length);
    }
    if (m.headersSet) {
      const hs = m.newHeaders;
      w.putU32(hs.length / 2);
      for (let i = 0; i < hs.length; i++) w.bytes(hs[i].dataStart, hs[i].length);
    }
    this.count++;
    w.patchU32(this.countAt, this.count);
  }

  /** Dead-letters the message with error text, dropping any outputs emitted for it. */
  reject(error: string): void {
    w.truncate(this.start);
    w.putU8(1);
    w.str(error);
    this.rejected = true;
  }
}

/** A handler: filter (emit nothing), map (emit m once) or split (emit several); or reject. */
export type HandlerFn = (m: Message, out: Outputs) => void;
/** A map handler: change m in place and return null, or return an error text to dead-letter it. */
export type MapFn = (m: Message) => string | null;
/** A filter handler: return true to keep the message unchanged, false to drop it. */
export type FilterFn = (m: Message) => bool;
/** An init hook: read the configuration; return null, or an error text that fails the load. */
export type InitFn = (config: Config) => string | null;

let handlerFn: HandlerFn | null = null;
let mapFn: MapFn | null = null;
let filterFn: FilterFn | null = null;
const hooks: InitFn[] = [];

/** Registers fn as the plugin's handler. Call it (or map or filter) at the top level of the entry file; the last registration wins. */
export function handle(fn: HandlerFn): void {
  handlerFn = fn;
  mapFn = null;
  filterFn = null;
}

/** Registers fn as a handler that changes each message in place (null passes it on, a string dead-letters it). */
export function map(fn: MapFn): void {
  mapFn = fn;
  handlerFn = null;
  filterFn = null;
}

/** Registers fn as a handler that keeps a message, unchanged, when fn returns true and drops it otherwise. */
export function filter(fn: FilterFn): void {
  filterFn = fn;
  handlerFn = null;
  mapFn = null;
}

/**
 * Registers fn to run when the host hands the plugin its configuration (the
 * route stage's config, {} when absent). A returned text, or an error
 * recorded on the Config, fails the plugin's load with that message, so
 * check the configuration here. Hooks run in registration order and stop at
 * the first error.
 */
export function onInit(fn: InitFn): void {
  hooks.push(fn);
}

/** Whether a handler is registered. */
export function registered(): bool {
  return handlerFn !== null || mapFn !== null || filterFn !== null;
}

/** Runs the init hooks on the configuration at [ptr, ptr+len); returns an error text or null. */
export function runInit(ptr: usize, len: i32): string | null {
  if (!registered()) return "no handler registered: call handle, map or filter at the top level of the entry file";
  const cfg = new Config(ptr, len);
  for (let i = 0; i < hooks.length; i++) {
    const err = hooks[i](cfg);
    if (err !== null) return err;
    const recorded = cfg.error;
    if (recorded !== null) return recorded;
  }
  return null;
}

const msg = new Message();
const outs = new Outputs();

/** Runs the input frame at [ptr, ptr+len) through the handler and returns the result frame's length (at w.base()). */
export function runHandle(ptr: usize, len: i32): i32 {
  const end = ptr + <usize>len;
  if (len < 8 || load<u32>(ptr) != 1) unreachable();
  const count = load<u32>(ptr, 4);
  w.reset();
  w.putU32(1);
  w.putU32(count);
  let p = ptr + 8;
  for (let i: u32 = 0; i < count; i++) {
    p = msg.decode(p, end);
    outs.begin();
    if (mapFn !== null) {
      const err = mapFn!(msg);
      if (err !== null) outs.reject(err);
      else outs.emit(msg);
    } else if (filterFn !== null) {
      if (filterFn!(msg)) outs.emit(msg);
    } else if (handlerFn !== null) {
      handlerFn!(msg, outs);
    } else {
      unreachable();
    }
  }
  return w.size();
}
