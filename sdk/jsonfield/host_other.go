//go:build !wasip1

package jsonfield

// Natively there is no host to ask: every function runs the Go
// implementation, which is what the tests and fuzzers exercise.

func hostParse([]byte) (Value, int)                      { return Value{}, hostNone }
func hostGet([]byte, string) (Value, int)                { return Value{}, hostNone }
func hostSet([]byte, string, []byte) ([]byte, int)       { return nil, hostNone }
func hostDelete([]byte, string) ([]byte, int)            { return nil, hostNone }
func hostFloat([]byte) (float64, int)                    { return 0, hostNone }
func hostSetFloat([]byte, string, float64) ([]byte, int) { return nil, hostNone }
func hostApply([]byte, []byte, []byte) ([]byte, int)     { return nil, hostNone }
func hostFind([]byte, []byte, []Value) (Value, int)      { return Value{}, hostNone }
func hostChildren([]byte, bool) ([]int64, bool)          { return nil, false }
