package gatewaytest

import (
	"testing"

	"github.com/tributary-gw/tributary/gateway/gatewaytest/faultproxy"
)

// FaultProxy is a [faultproxy.Proxy] started by [Proxy] for one test: a TCP proxy on
// 127.0.0.1 that forwards to one target and can break the connection on demand (Cut and
// Restore, Reject and Accept, Blackhole, Pause and Resume, Delay). Point the client under
// test at Addr instead of the target.
//
// Its methods are safe for concurrent use. Restore fails the test with t.Fatal and must be
// called from the test goroutine.
type FaultProxy struct {
	*faultproxy.Proxy
	t testing.TB
}

// Proxy starts a FaultProxy to target (host:port) on a free loopback port. It forwards bytes
// unchanged until told otherwise. Cleanup closes it and every connection through it.
func Proxy(t testing.TB, target string) *FaultProxy {
	t.Helper()
	p, err := faultproxy.New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return &FaultProxy{Proxy: p, t: t}
}

// Restore undoes Cut and Blackhole ([faultproxy.Proxy.Restore]); it fails the test if the
// address has been taken meanwhile.
func (p *FaultProxy) Restore() {
	p.t.Helper()
	if err := p.Proxy.Restore(); err != nil {
		p.t.Fatal(err)
	}
}
