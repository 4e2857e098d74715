import { log_raw } from "./host";

/** Log levels of the tributary.log import (sdk/ABI.md §2). */
export enum Level {
  Debug = 0,
  Info = 1,
  Warn = 2,
  Error = 3,
}

/**
 * Writes msg to the gateway log at level, attributed to the plugin. The
 * host rate-limits plugin log lines; do not log per message in production.
 */
export function log(level: Level, msg: string): void {
  const buf = String.UTF8.encode(msg, false);
  log_raw(level, changetype<usize>(buf), buf.byteLength);
}

/**
 * The abort handler the SDK's build flags install (`--use abort=...`):
 * logs the message and location at error level, then traps. The host
 * dead-letters the batch and discards the instance (sdk/ABI.md §7).
 */
export function abortHandler(message: string | null, fileName: string | null, line: u32, column: u32): void {
  let text = "abort: ";
  text += message !== null ? message : "(no message)";
  if (fileName !== null) text += " at " + fileName + ":" + line.toString() + ":" + column.toString();
  log(Level.Error, text);
  unreachable();
}
