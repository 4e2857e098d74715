import { copyOut, text, equalsString } from "./bytes";

/** A name/value pair: an MQTT v5 user property or a Kafka header. */
export class Pair {
  constructor(public name: string, public value: string) {}
}

/** Input message flags (sdk/ABI.md §3). */
const FLAG_RETAIN: u8 = 1;
const FLAG_KEY_SET: u8 = 2;

// readPairs decodes n pairs starting at p into strings.
function readPairs(p: usize, n: u32): Pair[] {
  const out = new Array<Pair>(n);
  for (let i: u32 = 0; i < n; i++) {
    const nl = load<u32>(p);
    const name = text(p + 4, nl);
    p += 4 + <usize>nl;
    const vl = load<u32>(p);
    const value = text(p + 4, vl);
    p += 4 + <usize>vl;
    out[i] = new Pair(name, value);
  }
  return out;
}

// findPair returns the address of the value (u32 length, bytes) of the first
// pair called name, or 0.
function findPair(p: usize, n: u32, name: string): usize {
  for (let i: u32 = 0; i < n; i++) {
    const nl = load<u32>(p);
    const hit = equalsString(p + 4, nl, name);
    p += 4 + <usize>nl;
    if (hit) return p;
    p += 4 + <usize>load<u32>(p);
  }
  return 0;
}

/**
 * The message a handler sees and edits. Topic, QoS, retain, content type,
 * route, tenant, arrival time and properties belong to the original MQTT
 * message and are read-only; payload, Kafka topic, key and headers are what
 * the previous stage produced and may be changed.
 *
 * A Message is valid only during the handler call that received it (the SDK
 * reuses it for the next message); copy what must outlive the call. Getters
 * that return strings decode UTF-8 on every call; the `...Ptr`/`...Length`
 * accessors read the bytes where they lie, without copying.
 */
export class Message {
  // Spans into the input frame (sdk/ABI.md §3).
  topicPtr: usize = 0;
  topicLen: i32 = 0;
  inPayloadPtr: usize = 0;
  inPayloadLen: i32 = 0;
  contentTypePtr: usize = 0;
  contentTypeLen: i32 = 0;
  routePtr: usize = 0;
  routeLen: i32 = 0;
  tenantPtr: usize = 0;
  tenantLen: i32 = 0;
  /** MQTT QoS the message arrived with: 0, 1 or 2. */
  qos: u8 = 0;
  flags: u8 = 0;
  /** When the gateway received the message, in Unix milliseconds. */
  arrivedAtMs: i64 = 0;
  inKafkaTopicPtr: usize = 0;
  inKafkaTopicLen: i32 = 0;
  inKeyPtr: usize = 0;
  inKeyLen: i32 = 0;
  propsPtr: usize = 0;
  propsN: u32 = 0;
  inHeadersPtr: usize = 0;
  inHeadersN: u32 = 0;

  // Changes made by the handler.
  payloadSet: bool = false;
  newPayload: Uint8Array | null = null;
  topicSet: bool = false;
  newKafkaTopic: string = "";
  keySet: bool = false;
  newKey: Uint8Array | null = null;
  headersSet: bool = false;
  newHeaders: Array<Uint8Array> = []; // name, value, name, value, ...

  /** Decodes the message at p (inside a frame ending at end) and returns the end of it. */
  decode(p: usize, end: usize): usize {
    this.payloadSet = false;
    this.newPayload = null;
    this.topicSet = false;
    this.keySet = false;
    this.newKey = null;
    this.headersSet = false;
    this.newHeaders.length = 0;
    p = this.span(p, end, 0);
    p = this.span(p, end, 1);
    p = this.span(p, end, 2);
    p = this.span(p, end, 3);
    p = this.span(p, end, 4);
    if (p + 10 > end) unreachable();
    this.qos = load<u8>(p);
    this.flags = load<u8>(p, 1);
    this.arrivedAtMs = load<i64>(p, 2);
    p += 10;
    p = this.span(p, end, 5);
    p = this.span(p, end, 6);
    this.propsN = load<u32>(p);
    this.propsPtr = p + 4;
    p = skipPairs(p + 4, end, this.propsN);
    if (p + 4 > end) unreachable();
    this.inHeadersN = load<u32>(p);
    this.inHeadersPtr = p + 4;
    return skipPairs(p + 4, end, this.inHeadersN);
  }

  private span(p: usize, end: usize, which: i32): usize {
    if (p + 4 > end) unreachable();
    const n = load<u32>(p);
    const at = p + 4;
    if (<u64>at + <u64>n > <u64>end) unreachable();
    switch (which) {
      case 0: this.topicPtr = at; this.topicLen = n; break;
      case 1: this.inPayloadPtr = at; this.inPayloadLen = n; break;
      case 2: this.contentTypePtr = at; this.contentTypeLen = n; break;
      case 3: this.routePtr = at; this.routeLen = n; break;
      case 4: this.tenantPtr = at; this.tenantLen = n; break;
      case 5: this.inKafkaTopicPtr = at; this.inKafkaTopicLen = n; break;
      default: this.inKeyPtr = at; this.inKeyLen = n; break;
    }
    return at + <usize>n;
  }

  /** The MQTT topic the message arrived on. */
  topic(): string {
    return text(this.topicPtr, this.topicLen);
  }

  /** The MQTT v5 content type, "" when absent. */
  contentType(): string {
    return text(this.contentTypePtr, this.contentTypeLen);
  }

  /** The name of the route running this plugin. */
  route(): string {
    return text(this.routePtr, this.routeLen);
  }

  /** The tenant of the route, "" for the default tenant. */
  tenant(): string {
    return text(this.tenantPtr, this.tenantLen);
  }

  /** Whether the MQTT message had the retain flag. */
  get retain(): bool {
    return (this.flags & FLAG_RETAIN) != 0;
  }

  /** The value of the first MQTT v5 user property called name, or null. */
  property(name: string): string | null {
    const v = findPair(this.propsPtr, this.propsN, name);
    return v == 0 ? null : text(v + 4, load<u32>(v));
  }

  /** All MQTT v5 user properties, in arrival order (a new array). */
  properties(): Pair[] {
    return readPairs(this.propsPtr, this.propsN);
  }

  /** Where the current payload's bytes are; read them with load<u8>, never write. */
  payloadPtr(): usize {
    const p = this.newPayload;
    return p !== null ? p.dataStart : this.inPayloadPtr;
  }

  /** The current payload's length in bytes. */
  payloadLength(): i32 {
    const p = this.newPayload;
    return p !== null ? p.length : this.inPayloadLen;
  }

  /** A copy of the current payload. */
  payload(): Uint8Array {
    return copyOut(this.payloadPtr(), this.payloadLength());
  }

  /** The current payload decoded as UTF-8. */
  payloadString(): string {
    return text(this.payloadPtr(), this.payloadLength());
  }

  /** Replaces the payload. p is kept, not copied, until the message is emitted. */
  setPayload(p: Uint8Array): void {
    this.newPayload = p;
    this.payloadSet = true;
  }

  /** Replaces the payload with s in UTF-8. */
  setPayloadString(s: string): void {
    this.setPayload(Uint8Array.wrap(String.UTF8.encode(s, false)));
  }

  /** The Kafka topic chosen so far; "" means the route's configured topic. */
  kafkaTopic(): string {
    return this.topicSet ? this.newKafkaTopic : text(this.inKafkaTopicPtr, this.inKafkaTopicLen);
  }

  /** Sends the message to Kafka topic t; "" resets it to the route's topic. */
  setKafkaTopic(t: string): void {
    this.newKafkaTopic = t;
    this.topicSet = true;
  }

  /** Whether a Kafka key was chosen; when not, the route's key mapping applies. */
  hasKey(): bool {
    return this.keySet || (this.flags & FLAG_KEY_SET) != 0;
  }

  /** A copy of the Kafka key chosen so far, or null when none was. */
  key(): Uint8Array | null {
    if (this.keySet) return this.newKey;
    if ((this.flags & FLAG_KEY_SET) == 0) return null;
    return copyOut(this.inKeyPtr, this.inKeyLen);
  }

  /** The Kafka key decoded as UTF-8, or null when none was chosen. */
  keyString(): string | null {
    const k = this.key();
    return k === null ? null : text(k.dataStart, k.length);
  }

  /** Sets the Kafka key, possibly to an empty one. */
  setKey(k: Uint8Array): void {
    this.newKey = k;
    this.keySet = true;
  }

  /** Sets the Kafka key to s in UTF-8. */
  setKeyString(s: string): void {
    this.setKey(Uint8Array.wrap(String.UTF8.encode(s, false)));
  }

  /** The value of the first Kafka header called name set so far, or null. */
  header(name: string): string | null {
    if (!this.headersSet) {
      const v = findPair(this.inHeadersPtr, this.inHeadersN, name);
      return v == 0 ? null : text(v + 4, load<u32>(v));
    }
    const hs = this.newHeaders;
    for (let i = 0; i < hs.length; i += 2) {
      const n = hs[i];
      if (equalsString(n.dataStart, n.length, name)) {
        const v = hs[i + 1];
        return text(v.dataStart, v.length);
      }
    }
    return null;
  }

  /** The Kafka headers set so far, in order (a new array). */
  headers(): Pair[] {
    if (!this.headersSet) return readPairs(this.inHeadersPtr, this.inHeadersN);
    const hs = this.newHeaders;
    const out = new Array<Pair>(hs.length / 2);
    for (let i = 0; i < hs.length; i += 2) {
      out[i / 2] = new Pair(text(hs[i].dataStart, hs[i].length), text(hs[i + 1].dataStart, hs[i + 1].length));
    }
    return out;
  }

  /** Appends a Kafka header, keeping any others of the same name. */
  addHeader(name: string, value: string): void {
    this.ownHeaders();
    this.newHeaders.push(Uint8Array.wrap(String.UTF8.encode(name, false)));
    this.newHeaders.push(Uint8Array.wrap(String.UTF8.encode(value, false)));
  }

  /** Sets Kafka header name to value, replacing every header of that name. */
  setHeader(name: string, value: string): void {
    this.deleteHeader(name);
    this.addHeader(name, value);
  }

  /** Removes every Kafka header called name (names compare byte for byte). */
  deleteHeader(name: string): void {
    this.ownHeaders();
    const hs = this.newHeaders;
    let kept = 0;
    for (let i = 0; i < hs.length; i += 2) {
      if (equalsString(hs[i].dataStart, hs[i].length, name)) continue;
      hs[kept] = hs[i];
      hs[kept + 1] = hs[i + 1];
      kept += 2;
    }
    hs.length = kept;
  }

  // ownHeaders copies the input's headers (as bytes, so binary values pass
  // through unchanged) before the first change.
  private ownHeaders(): void {
    if (this.headersSet) return;
    this.headersSet = true;
    const hs = this.newHeaders;
    hs.length = 0;
    let p = this.inHeadersPtr;
    for (let i: u32 = 0; i < this.inHeadersN; i++) {
      const nl = load<u32>(p);
      hs.push(copyOut(p + 4, nl));
      p += 4 + <usize>nl;
      const vl = load<u32>(p);
      hs.push(copyOut(p + 4, vl));
      p += 4 + <usize>vl;
    }
  }
}

function skipPairs(p: usize, end: usize, n: u32): usize {
  for (let i: u32 = 0; i < 2 * n; i++) {
    if (p + 4 > end) unreachable();
    p += 4 + <usize>load<u32>(p);
    if (p > end) unreachable();
  }
  return p;
}
