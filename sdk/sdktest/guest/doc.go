// Command guest is the ABI conformance guest: a plugin built with package
// sdk whose behaviour is driven by each message's payload, as specified in
// sdk/ABI.md, "Appendix: conformance guest". Hosts run it through
// sdktest.Conformance; build it with sdktest.BuildConformanceGuest.
//
// It imports only package sdk and the standard library.
//
// Build by hand with:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o guest.wasm .
package main
