package jsonfield_test

import (
	"testing"

	"github.com/tributary-gw/tributary/sdk/jsonfield"
)

func TestIsNumber(t *testing.T) {
	for _, s := range []string{
		"0", "-0", "1", "12", "-12", "1.5", "0.25", "1e3", "1E+3", "2.5e-3", " 7", "7 ", "\t7\n", "\r-1.0e0 ",
		"", " ", "-", "+1", "01", "-01", "1.", ".5", "1e", "1e+", "0x10", "1_000", "NaN", "Inf", "1 2", "1,2",
		"\u00a07", "7\v", "1.5.5", "--1", "1e3e3", "١", "00", "1e999", "-0.0e-0", `"1"`, "true", "[1]",
	} {
		v, err := jsonfield.Parse([]byte(s))
		want := err == nil && v.Kind() == jsonfield.Number
		if got := jsonfield.IsNumber(s); got != want {
			t.Errorf("IsNumber(%q) = %v, Parse says %v", s, got, want)
		}
	}
}

func FuzzIsNumber(f *testing.F) {
	for _, s := range []string{"1", "-2.5e3", " 01", "1.", "\t0\n", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := jsonfield.Parse([]byte(s))
		if want := err == nil && v.Kind() == jsonfield.Number; jsonfield.IsNumber(s) != want {
			t.Fatalf("IsNumber(%q) = %v, Parse says %v", s, !want, want)
		}
	})
}
