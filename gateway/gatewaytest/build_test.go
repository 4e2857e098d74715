package gatewaytest

import (
	"os/exec"
	"strings"
	"testing"
)

func TestBuildBinary(t *testing.T) {
	const pkg = "./gateway/gatewaytest/testdata/hello"
	bin := BuildBinary(t, pkg)
	out, err := exec.Command(bin, "world").Output()
	if err != nil {
		t.Fatalf("run %s: %v", bin, err)
	}
	if got := strings.TrimSpace(string(out)); got != "hello world" {
		t.Fatalf("output %q, want %q", got, "hello world")
	}
	if again := BuildBinary(t, pkg); again != bin {
		t.Fatalf("second BuildBinary = %s, want the cached %s", again, bin)
	}
}

func TestBuildBinary_Fails(t *testing.T) {
	r := &recordingTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		BuildBinary(r, "./gateway/gatewaytest/testdata/no-such-package")
	}()
	<-done
	if !r.failed || !strings.Contains(r.msg, "no-such-package") {
		t.Fatalf("failed=%v msg=%q, want a failure naming the package", r.failed, r.msg)
	}
}
