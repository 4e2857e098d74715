package mosquitto

import (
	"strings"
	"testing"
)

// TestPasswordEntry pins the "$7$" format against a line that
// mosquitto_passwd 2.0 wrote for user gw, password s3cret.
func TestPasswordEntry(t *testing.T) {
	const want = "gw:$7$101$AAECAwQFBgcICQoL$"
	got, err := passwordEntryWithSalt("gw", "s3cret", []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 101, 64)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got, want) || len(got) != len(want)+88 {
		t.Fatalf("entry = %q, want prefix %q and an 88-character hash", got, want)
	}
	if _, err := PasswordEntry("a:b", "x"); err == nil {
		t.Fatal(`PasswordEntry("a:b") succeeded, want an error naming the user`)
	}
}
