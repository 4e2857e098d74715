package gateway_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/tributary-gw/tributary/gateway"
	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
)

// testPKI writes a CA, a server certificate for 127.0.0.1 and a client certificate to dir.
type testPKI struct{ ca, serverCert, serverKey, clientCert, clientKey string }

func newTestPKI(t *testing.T, dir string) testPKI {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	writeKey := func(name string, k *ecdsa.PrivateKey) string {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return write(name, "PRIVATE KEY", der)
	}
	now := time.Now()
	caKey := key()
	caTpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tributary test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTpl, caTpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, k *ecdsa.PrivateKey) []byte {
		tpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{usage},
			KeyUsage: x509.KeyUsageDigitalSignature, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
		der, err := x509.CreateCertificate(rand.Reader, tpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	sk, ck := key(), key()
	return testPKI{
		ca:         write("ca.pem", "CERTIFICATE", caDER),
		serverCert: write("server.pem", "CERTIFICATE", leaf(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, sk)),
		serverKey:  writeKey("server.key", sk),
		clientCert: write("client.pem", "CERTIFICATE", leaf(3, "tributary", x509.ExtKeyUsageClientAuth, ck)),
		clientKey:  writeKey("client.key", ck),
	}
}

// TestMQTT_TransportsAndLogin connects the gateway to Mosquitto over mutual TLS (ssl://) and
// over WebSocket (ws://), logging in with a username and password, and delivers through each.
func TestMQTT_TransportsAndLogin(t *testing.T) {
	forEachProtocol(t, testMQTTTransportsAndLogin)
}

func testMQTTTransportsAndLogin(t *testing.T, protocol string) {
	pki := newTestPKI(t, t.TempDir())
	tlsPort, wsPort := gatewaytest.FreePort(t), gatewaytest.FreePort(t)
	mq := gatewaytest.Mosquitto(t,
		gatewaytest.WithPasswordFile("gateway", "s3cret"),
		gatewaytest.WithConfig(
			fmt.Sprintf("listener %d 127.0.0.1", tlsPort),
			"cafile "+pki.ca, "certfile "+pki.serverCert, "keyfile "+pki.serverKey,
			"require_certificate true",
			fmt.Sprintf("listener %d 127.0.0.1", wsPort),
			"protocol websockets",
		))
	tests := []struct {
		name string
		url  string
		tls  config.TLS
	}{
		{"mutual TLS", fmt.Sprintf("ssl://127.0.0.1:%d", tlsPort),
			config.TLS{CAFile: pki.ca, CertFile: pki.clientCert, KeyFile: pki.clientKey}},
		{"websocket", fmt.Sprintf("ws://127.0.0.1:%d", wsPort), config.TLS{}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kf := gatewaytest.Kafka(t)
			topic := fmt.Sprintf("transport%d", i)
			cfg := testConfig(t, tc.url, kf, route("r", topic+"/#", 1, topic))
			cfg.MQTT.Username, cfg.MQTT.Password, cfg.MQTT.TLS = "gateway", "s3cret", tc.tls
			cfg.MQTT.Protocol = protocol
			startGateway(t, cfg)
			msgs := gatewaytest.Messages(gatewaytest.Topics(topic+"/%d", 5), 200)
			gatewaytest.Publish(t, mq.URL(), 1, msgs, gatewaytest.WithLogin("gateway", "s3cret"))
			if err := kf.WaitDelivered(t, topic, msgs, 30*time.Second).ExactlyOnce(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestMQTT_BadCredentialsNotReady: a refused login keeps the gateway unready and retrying,
// with the failure counted; it never crashes.
func TestMQTT_BadCredentialsNotReady(t *testing.T) {
	forEachProtocol(t, testMQTTBadCredentialsNotReady)
}

func testMQTTBadCredentialsNotReady(t *testing.T, protocol string) {
	mq := gatewaytest.Mosquitto(t, gatewaytest.WithPasswordFile("gateway", "s3cret"))
	kf := gatewaytest.Kafka(t)
	cfg := testConfig(t, mq.URL(), kf, route("r", "x/#", 1, "x"))
	cfg.MQTT.Username, cfg.MQTT.Password = "gateway", "wrong"
	cfg.MQTT.Protocol = protocol
	gw, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gw.Run(ctx) }()
	gatewaytest.WaitFor(t, 20*time.Second, func() error {
		if gw.AdminAddr() == "" {
			return fmt.Errorf("admin not up")
		}
		m := httpGet(t, "http://"+gw.AdminAddr()+"/metrics")
		if !containsLine(m, "tributary_mqtt_connection_errors_total", 2) {
			return fmt.Errorf("no repeated connection errors counted yet")
		}
		return nil
	})
	if r := httpGet(t, "http://"+gw.AdminAddr()+"/readyz"); r[:9] != "not ready" {
		t.Fatalf("readyz = %q", r)
	}
	cancel()
	if err := <-done; err != nil {
		t.Logf("Run after cancel: %v", err)
	}
}

// TestKafka_SASL produces through kfake with each SASL mechanism.
func TestKafka_SASL(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	for i, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			kf := gatewaytest.Kafka(t, kfake.EnableSASL(), kfake.Superuser(mech, "gw", "pa55"))
			topic := fmt.Sprintf("sasl%d", i)
			cfg := testConfig(t, mq.URL(), kf, route("r", topic+"/#", 1, topic))
			cfg.Kafka.SASL = config.SASL{Mechanism: mech, Username: "gw", Password: "pa55"}
			startGateway(t, cfg)
			gatewaytest.Publish(t, mq.URL(), 1, []gatewaytest.PublishMsg{{Topic: topic + "/a", Payload: []byte("hello")}})

			var auth kgo.Opt
			switch mech {
			case "PLAIN":
				auth = kgo.SASL(plain.Auth{User: "gw", Pass: "pa55"}.AsMechanism())
			case "SCRAM-SHA-256":
				auth = kgo.SASL(scram.Auth{User: "gw", Pass: "pa55"}.AsSha256Mechanism())
			default:
				auth = kgo.SASL(scram.Auth{User: "gw", Pass: "pa55"}.AsSha512Mechanism())
			}
			cl := kf.Client(t, auth, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for {
				fs := cl.PollFetches(ctx)
				if ctx.Err() != nil {
					t.Fatal("no record read back through SASL")
				}
				if recs := fs.Records(); len(recs) > 0 {
					if string(recs[0].Value) != "hello" {
						t.Fatalf("record %q", recs[0].Value)
					}
					return
				}
			}
		})
	}
}
