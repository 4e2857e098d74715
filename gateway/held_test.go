package gateway_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway"
	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
)

// statusOf returns the state of tenant name in the gateway's status, or "".
func statusOf(gw *running, name string) gateway.TenantStatus {
	for _, st := range gw.Stats().Tenants {
		if st.Name == name {
			return st
		}
	}
	return gateway.TenantStatus{}
}

// TestTenants_BrokenTenantIsHeldAlone starts a gateway with one tenant whose plugin refuses
// its config and one whose tenant.yaml does not parse: both are held (no session, shown on
// /readyz, /api/v1/status and the metric) while the good tenant starts and serves. Mending
// the broken one on reload brings it up; breaking the good one leaves it serving its previous
// routes (stale). ReloadTenant reports only its own tenant's failure.
func TestTenants_BrokenTenantIsHeldAlone(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	initFails := strings.Replace(tenantDoc("acme", "stamp", ""), "{plugin: stamp}", "{plugin: stamp, config: {bogus: true}}", 1)
	s := newTenantSetup(t, mq.URL(), kf, map[string]string{
		"acme":   initFails,
		"globex": tenantDoc("globex", "stamp", ""),
		"umbra":  "routes: [\n",
	})
	gw := startGateway(t, s.load(t))

	for name, want := range map[string]string{"acme": gateway.TenantHeld, "umbra": gateway.TenantHeld, "globex": gateway.TenantServing} {
		if st := statusOf(gw, name); st.State != want {
			t.Errorf("tenant %s: %+v, want %s", name, st, want)
		}
	}
	if st := statusOf(gw, "acme"); !strings.Contains(st.Error, "chain[0] (stamp)") {
		t.Errorf("acme's error does not name the stage: %q", st.Error)
	}
	ready := httpGet(t, "http://"+gw.AdminAddr()+"/readyz")
	if !strings.HasPrefix(ready, "ready\n") || !strings.Contains(ready, "degraded: tenant acme held") || !strings.Contains(ready, "degraded: tenant umbra held") {
		t.Errorf("/readyz = %q, want ready with acme and umbra degraded", ready)
	}
	if m := httpGet(t, "http://"+gw.AdminAddr()+"/metrics"); !strings.Contains(m, `tributary_tenant_degraded{state="held",tenant="acme"} 1`) ||
		!strings.Contains(m, `tributary_tenant_degraded{state="held",tenant="globex"} 0`) {
		t.Errorf("tributary_tenant_degraded missing or wrong in /metrics")
	}
	if m := httpGet(t, "http://"+gw.AdminAddr()+"/metrics"); strings.Contains(m, `tributary_mqtt_connected{tenant="acme"}`) {
		t.Errorf("held tenant acme has an MQTT session")
	}
	globex := gatewaytest.Messages(gatewaytest.Topics("globex/s/%d", 4), 50)
	gatewaytest.Publish(t, mq.URL(), 1, globex)
	if err := kf.WaitDelivered(t, "globex.out", globex, 60*time.Second).ExactlyOnce(); err != nil {
		t.Fatalf("globex beside held tenants: %v", err)
	}

	// Mend acme, break globex's plugin config: acme serves, globex keeps its routes (stale).
	s.writeTenant(t, "acme", tenantDoc("acme", "stamp", ""))
	s.writeTenant(t, "globex", strings.Replace(tenantDoc("globex", "stamp", ""), "{plugin: stamp}", "{plugin: stamp, config: {bogus: true}}", 1))
	err := gw.Reload(context.Background(), s.load(t))
	if err == nil || !strings.Contains(err.Error(), "tenant globex") || strings.Contains(err.Error(), "tenant acme") {
		t.Fatalf("Reload = %v, want globex's failure only", err)
	}
	if st := statusOf(gw, "acme"); st.State != gateway.TenantServing {
		t.Fatalf("acme after mending: %+v", st)
	}
	if st := statusOf(gw, "globex"); st.State != gateway.TenantStale {
		t.Fatalf("globex after a broken change: %+v, want stale", st)
	}
	gatewaytest.WaitFor(t, 20*time.Second, func() error {
		if m := httpGet(t, "http://"+gw.AdminAddr()+"/metrics"); !strings.Contains(m, `tributary_mqtt_connected{tenant="acme"} 1`) {
			return fmt.Errorf("acme's session not up yet")
		}
		return nil
	})
	acme := gatewaytest.Messages(gatewaytest.Topics("acme/s/%d", 4), 50)
	more := gatewaytest.Messages(gatewaytest.Topics("globex/t/%d", 4), 50)
	gatewaytest.Publish(t, mq.URL(), 1, append(acme, more...))
	if err := kf.WaitDelivered(t, "acme.out", acme, 60*time.Second).ExactlyOnce(); err != nil {
		t.Fatalf("acme after mending: %v", err)
	}
	if err := kf.WaitDelivered(t, "globex.out", append(globex, more...), 60*time.Second).ExactlyOnce(); err != nil {
		t.Fatalf("stale globex: %v", err)
	}

	// ReloadTenant answers for its tenant alone.
	if err := gw.ReloadTenant(context.Background(), "acme"); err != nil {
		t.Errorf("ReloadTenant(acme) = %v, want nil while globex is stale", err)
	}
	if err := gw.ReloadTenant(context.Background(), "globex"); err == nil || !strings.Contains(err.Error(), "bogus") && !strings.Contains(err.Error(), "stamp") {
		t.Errorf("ReloadTenant(globex) = %v, want its stage's error", err)
	}
	if err := gw.ReloadTenant(context.Background(), "nobody"); err == nil {
		t.Errorf("ReloadTenant(nobody) succeeded")
	}
}

// TestDrain_BoundedWhateverAPluginDoes stops a gateway while a plugin loops on a message with
// a call_timeout of an hour: Run still returns within flow.drain_timeout plus the documented
// grace of 5 s, reporting the unfinished drain, and the looping call is stopped.
func TestDrain_BoundedWhateverAPluginDoes(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	r := route("r", "spin/#", 1, "spun")
	r.Chain = []config.Stage{{Plugin: "conformance"}}
	cfg := testConfig(t, mq.URL(), kf, r)
	cfg.Plugins.Dir = conformancePlugins(t)
	cfg.Plugins.Limits.CallTimeout = time.Hour
	cfg.Plugins.Instances = 1
	cfg.Flow.DrainTimeout = time.Second
	logs := &gatewaytest.SyncBuffer{}
	gw, err := gateway.New(cfg, gateway.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gw.Run(ctx) }()
	defer func() {
		if t.Failed() {
			t.Logf("gateway logs:\n%s", logs.String())
		}
	}()
	waitReady(t, gw) // subscribed: connected alone (CONNACK) is too early to publish
	gatewaytest.Publish(t, mq.URL(), 1, []gatewaytest.PublishMsg{{Topic: "spin/x", Payload: []byte("loop")}})
	gatewaytest.WaitFor(t, 20*time.Second, func() error {
		for _, rs := range gw.Stats().Routes {
			if rs.Name == "r" && rs.In > 0 {
				return nil
			}
		}
		return fmt.Errorf("the message has not reached the chain")
	})
	stopped := time.Now()
	cancel()
	bound := cfg.Flow.DrainTimeout + 5*time.Second
	select {
	case err := <-done:
		took := time.Since(stopped)
		t.Logf("Run returned after %v: %v", took.Round(time.Millisecond), err)
		if err == nil || !strings.Contains(err.Error(), "drain") {
			t.Errorf("Run = %v, want an unfinished drain reported", err)
		}
	case <-time.After(bound + 10*time.Second): // slack for a loaded CI machine
		t.Fatalf("Run did not return within %v of the stop (drain_timeout %v + grace 5s)", bound+10*time.Second, cfg.Flow.DrainTimeout)
	}
}
