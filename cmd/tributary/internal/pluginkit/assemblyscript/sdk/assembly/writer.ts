// The result frame writer (sdk/ABI.md §4): one buffer, kept and grown
// geometrically, that every call of tributary_handle writes into.

let buf: ArrayBuffer = new ArrayBuffer(4096);
let len: i32 = 0;

/** Starts a new frame. */
export function reset(): void {
  len = 0;
}

/** The frame's start in memory. Valid until the next reserve. */
export function base(): usize {
  return changetype<usize>(buf);
}

/** The number of bytes written so far. */
export function size(): i32 {
  return len;
}

/** Moves the end of the frame back to at (a value size returned earlier). */
export function truncate(at: i32): void {
  len = at;
}

/** Makes room for n more bytes and returns where they go; the caller writes them. */
export function reserve(n: i32): usize {
  const need = <i64>len + <i64>n;
  if (need > <i64>buf.byteLength) {
    let cap = <i64>buf.byteLength * 2;
    while (cap < need) cap *= 2;
    if (cap > 0x7fff_ffff) cap = need;
    const grown = new ArrayBuffer(<i32>cap);
    memory.copy(changetype<usize>(grown), changetype<usize>(buf), len);
    buf = grown;
  }
  const at = changetype<usize>(buf) + <usize>len;
  len += n;
  return at;
}

export function putU8(v: u8): void {
  store<u8>(reserve(1), v);
}

export function putU32(v: u32): void {
  store<u32>(reserve(4), v);
}

/** Writes n at a position written before (a value size returned). */
export function patchU32(at: i32, v: u32): void {
  store<u32>(changetype<usize>(buf) + <usize>at, v);
}

/** Appends len bytes from ptr, without a length. */
export function raw(ptr: usize, n: i32): void {
  memory.copy(reserve(n), ptr, n);
}

/** Appends an ABI string: u32 length, then the bytes. */
export function bytes(ptr: usize, n: i32): void {
  store<u32>(reserve(4), n);
  raw(ptr, n);
}

/** Appends s as an ABI string in UTF-8. */
export function str(s: string): void {
  const n = String.UTF8.byteLength(s, false);
  store<u32>(reserve(4), n);
  const at = reserve(n);
  String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, at, false);
}
