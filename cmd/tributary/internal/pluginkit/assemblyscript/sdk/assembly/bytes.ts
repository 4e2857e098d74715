// Byte helpers shared by the message, JSON and config code.

/** Returns a new Uint8Array holding a copy of the n bytes at ptr. */
export function copyOut(ptr: usize, n: i32): Uint8Array {
  const a = new Uint8Array(n);
  memory.copy(a.dataStart, ptr, n);
  return a;
}

/** Decodes the n UTF-8 bytes at ptr (invalid sequences become U+FFFD). */
export function text(ptr: usize, n: i32): string {
  return String.UTF8.decodeUnsafe(ptr, n, false);
}

/** Reports whether the n bytes at ptr are the UTF-8 encoding of s. */
export function equalsString(ptr: usize, n: i32, s: string): bool {
  // ASCII fast path without encoding s.
  const sl = s.length;
  if (sl == n) {
    let ascii = true;
    for (let i = 0; i < sl; i++) {
      const c = <u32>s.charCodeAt(i);
      if (c >= 0x80) {
        ascii = false;
        break;
      }
      if (<u32>load<u8>(ptr + <usize>i) != c) return false;
    }
    if (ascii) return true;
  }
  const enc = String.UTF8.encode(s, false);
  if (enc.byteLength != n) return false;
  return memory.compare(ptr, changetype<usize>(enc), n) == 0;
}

/** Reports whether the n bytes at a equal the m bytes at b. */
export function equalBytes(a: usize, n: i32, b: usize, m: i32): bool {
  return n == m && memory.compare(a, b, n) == 0;
}
