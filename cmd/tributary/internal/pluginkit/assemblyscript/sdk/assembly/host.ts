// The raw host imports of ABI v1 (sdk/ABI.md §2): module "tributary".
// A guest imports only the functions it calls, so a plugin that never
// touches JSON loads in any ABI v1 host.

/** Writes a UTF-8 log line at level (0 debug, 1 info, 2 warn, 3 error). */
@external("tributary", "log")
export declare function log_raw(level: i32, ptr: usize, len: i32): void;

@external("tributary", "json_parse")
export declare function json_parse(doc: usize, docLen: i32): i64;

@external("tributary", "json_get")
export declare function json_get(doc: usize, docLen: i32, path: usize, pathLen: i32): i64;

@external("tributary", "json_float")
export declare function json_float(val: usize, valLen: i32): f64;

@external("tributary", "json_edit")
export declare function json_edit(doc: usize, docLen: i32, prog: usize, progLen: i32, out: usize, outCap: i32): i64;

@external("tributary", "json_find")
export declare function json_find(doc: usize, docLen: i32, paths: usize, pathsLen: i32, out: usize, n: i32): i64;

@external("tributary", "json_children")
export declare function json_children(val: usize, valLen: i32, out: usize, outCap: i32): i64;

/** json_* result: the path does not exist. */
export const JSON_NOT_FOUND: i64 = -1;
/** json_* result: the document or value is not valid JSON, or the edit is impossible. */
export const JSON_MALFORMED: i64 = -2;
