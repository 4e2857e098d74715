package abi

// ModulePath is the path of the Go SDK module, which holds this package: the module a plugin's
// go.mod requires.
const ModulePath = "github.com/tributary-gw/tributary/sdk"

// ModuleVersion is the version of the Go SDK module this package belongs to, v0.<ABI>.<patch>:
// the minor number is [Version], the ABI the SDK speaks, and the patch number counts SDK
// releases for that ABI. A new ABI version raises the minor number and resets the patch; a
// fix that keeps the wire format raises the patch. The major number stays 0 so that the
// import path never changes; a module requiring v0.1.x speaks ABI 1. Published copies are
// tagged sdk/ModuleVersion in the repository.
const ModuleVersion = "v0.1.0"
