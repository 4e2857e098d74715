// The Tributary guest SDK for AssemblyScript (sdk/ABI.md, ABI v1).
//
//   import { map, Message } from "@tributary-gw/sdk";
//   export * from "@tributary-gw/sdk/assembly/exports";
//
//   map((m: Message): string | null => {
//     m.setPayloadString(m.payloadString().toUpperCase());
//     return null;
//   });
export { Message, Pair } from "./message";
export { Outputs, HandlerFn, MapFn, FilterFn, InitFn, handle, map, filter, onInit } from "./handler";
export { Config } from "./config";
export { Level, log } from "./log";
import * as json from "./json";
export { json };
