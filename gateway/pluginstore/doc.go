// Package pluginstore keeps the plugin modules of one directory (plugins.dir, or a tenant's
// plugin folder) and their previous versions, so that an upload can be rolled back with one
// call.
//
// The directory holds NAME.wasm for each current plugin, which is all the gateway's loader
// reads. Previous versions live under the hidden folder .versions/NAME/ as <sha256>.wasm,
// with a history file listing them newest first (at most MaxHistory). Every write is a
// temporary file in the same directory renamed over NAME.wasm, so a file watcher sees one
// complete module, never a partial one; temporary files start with a dot and do not end in
// .wasm.
//
// The entry point is Open:
//
//	st, err := pluginstore.Open(cfg.Plugins.Dir)
//	v, err := st.Put("celsius", wasm) // v.Hash is the sha256 hex of wasm
//	v, err = st.Rollback("celsius")   // the previous version is current again
//
// A module may also be replaced without the store: a file copied over NAME.wasm by hand or by
// a deploy tool. So that its predecessor is not lost, the store keeps a copy of the version it
// knows as current (.versions/NAME/current names it), and the gateway reports each version it
// serves after a reload (Serving): a version other than the known one makes the known one the
// newest previous version, exactly as Put would have.
//
// A change that must be undone when it cannot be applied (the gateway's upload: put, reload,
// and put back the previous state if the reload refuses it) takes a Snapshot first and
// Restores it: the module that was current comes back byte for byte, the history as it was.
// The caller serialises such transactions; the Store's lock covers one call.
//
// A plugin version is identified by the sha256 hex of its bytes (Hash), the same value the
// gateway stamps on dead letters.
//
// Package pluginstore imports only the standard library and none of the project's packages;
// it does not compile or validate modules (the caller does that before Put).
package pluginstore
