// redact: removes or masks JSON fields that must not reach Kafka (passwords,
// tokens, e-mail addresses, card numbers). One host call finds every
// configured field, one more rewrites the payload; a message holding none of
// them passes on unchanged, without a copy. See README.md.
import { map, onInit, json, Config, Message } from "../../../sdk/assemblyscript/assembly/index";
export * from "../../../sdk/assemblyscript/assembly/exports";

let paths: json.Paths = new json.Paths([]);
let removeCount = 0; // paths[0, removeCount) are removed, the rest masked
let edits: json.Edit[] = []; // one prebuilt operation per path
const edit = new json.Edit();
let rejectNonJSON = true;

onInit((c: Config): string | null => {
  c.only(["remove", "mask", "with", "non_json"]);
  const remove = c.strings("remove");
  const mask = c.strings("mask");
  const with_ = c.string("with", "***");
  const nonJSON = c.string("non_json", "reject");
  if (c.error !== null) return null; // the Config's error fails the init
  if (nonJSON != "reject" && nonJSON != "pass") return "config: non_json: want \"reject\" or \"pass\", got " + json.quote(nonJSON);
  if (remove.length + mask.length == 0) return "config: set at least one field in remove or mask";
  const all = remove.concat(mask);
  for (let i = 0; i < all.length; i++) {
    if (all[i].length == 0) return "config: an empty path would redact the whole payload";
  }
  paths = new json.Paths(all);
  removeCount = remove.length;
  edits = new Array<json.Edit>(all.length);
  const masked = json.quote(with_);
  for (let i = 0; i < all.length; i++) {
    edits[i] = i < removeCount ? new json.Edit().delete(all[i]) : new json.Edit().set(all[i], masked);
  }
  rejectNonJSON = nonJSON == "reject";
  return null;
});

map((m: Message): string | null => {
  if (!paths.findIn(m)) return rejectNonJSON ? "redact: payload is not JSON" : null;
  edit.reset();
  for (let i = 0; i < paths.count; i++) {
    if (paths.span(i) >= 0) edit.add(unchecked(edits[i]));
  }
  if (edit.ops == 0) return null; // nothing to redact: passed on unchanged
  if (!edit.applyTo(m)) return "redact: cannot rewrite the payload";
  return null;
});
