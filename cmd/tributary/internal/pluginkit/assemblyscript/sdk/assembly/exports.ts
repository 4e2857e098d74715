// The ABI v1 exports (sdk/ABI.md §1). A plugin's entry file re-exports them:
//
//   export * from "@tributary-gw/sdk/assembly/exports";
//
// Only the entry file's exports become the module's exports.
import * as w from "./writer";
import { runInit, runHandle } from "./handler";

// The one buffer the host writes frames and the configuration into; grown
// only when a frame is larger than any before (sdk/ABI.md §6).
let inBuf: ArrayBuffer = new ArrayBuffer(0);
let errBuf: ArrayBuffer = new ArrayBuffer(0);

/** The ABI v1 marker; never called. */
export function tributary_abi_v1(): void {}

/** Returns a buffer of at least size bytes for the host to write into. */
export function tributary_alloc(size: u32): u32 {
  if (size == 0) size = 1;
  if (<u32>inBuf.byteLength < size) {
    if (size > 0x7fff_fff0) return 0;
    inBuf = new ArrayBuffer(<i32>size);
  }
  return <u32>changetype<usize>(inBuf);
}

/** Hands the plugin its configuration; 0 or an error text's pointer and length. */
export function tributary_init(ptr: u32, len: u32): u64 {
  const err = runInit(ptr, len);
  if (err === null) return 0;
  errBuf = String.UTF8.encode(err.length == 0 ? "init failed" : err, false);
  return (<u64>changetype<usize>(errBuf) << 32) | <u64>errBuf.byteLength;
}

/** Runs one input frame; returns the result frame's pointer and length. */
export function tributary_handle(ptr: u32, len: u32): u64 {
  const n = runHandle(ptr, len);
  return (<u64>w.base() << 32) | <u64>n;
}
