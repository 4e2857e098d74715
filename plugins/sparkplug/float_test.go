package main

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// checkFloat fails when appendFloat(f, bits) differs from strconv's
// shortest 'g' formatting, which it must reproduce exactly.
func checkFloat(t *testing.T, f float64, bits int) {
	t.Helper()
	if bits == 32 {
		f = float64(float32(f))
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return
	}
	got := string(appendFloat([]byte("x"), f, bits))
	want := "x" + strconv.FormatFloat(f, 'g', -1, bits)
	if got != want {
		t.Errorf("appendFloat(%b, %d) = %q, want %q", f, bits, got, want)
	}
}

func TestAppendFloat(t *testing.T) {
	tests := []struct {
		f    float64
		bits int
		want string
	}{
		{21.25, 64, "21.25"},
		{76.07, 32, "76.07"},
		{-0.1, 64, "-0.1"},
		{0.0001, 64, "0.0001"},
		{0.00012, 32, "0.00012"},
		{999999, 64, "999999"},
		{1e6, 64, "1e+06"},
		{123456.7, 32, "123456.7"},
		{1.0 / 3, 64, "0.3333333333333333"},
		{0, 64, "0"},
		{math.Copysign(0, -1), 64, "-0"},
		{16777216, 32, "1.6777216e+07"},
		{5e-5, 64, "5e-05"},
	}
	for _, tc := range tests {
		f := tc.f
		if tc.bits == 32 {
			f = float64(float32(f))
		}
		if got := string(appendFloat(nil, f, tc.bits)); got != tc.want {
			t.Errorf("appendFloat(%v, %d) = %q, want %q", tc.f, tc.bits, got, tc.want)
		}
		checkFloat(t, tc.f, tc.bits)
	}
	// The fast path must answer for typical sensor values, and decline
	// what it cannot prove.
	for _, tc := range []struct {
		f    float64
		bits int
		ok   bool
	}{{21.25, 64, true}, {float64(float32(76.07)), 32, true}, {0.1, 64, true}, {-48.5, 32, true},
		{1.0 / 3, 64, false}, {1e6, 64, false}, {0, 64, false}, {math.NaN(), 64, false}} {
		if _, ok := appendShortDecimal(nil, tc.f, tc.bits); ok != tc.ok {
			t.Errorf("appendShortDecimal(%v, %d) ok = %v, want %v", tc.f, tc.bits, ok, tc.ok)
		}
	}
	// Short decimals, their float neighbours and random bits, near
	// powers of two and ten, in both sizes.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		k := rng.IntN(10)
		d := float64(rng.Int64N(2_000_000_000)) / pow10[k]
		if rng.IntN(2) == 0 {
			d = -d
		}
		for _, f := range []float64{d, math.Nextafter(d, 0), math.Nextafter(d, math.Inf(1)),
			float64(math.Nextafter32(float32(d), 0)), math.Float64frombits(rng.Uint64()),
			math.Ldexp(1, rng.IntN(40)-20), math.Nextafter(math.Ldexp(1, rng.IntN(40)-20), 0),
			math.Pow(10, float64(rng.IntN(12)-5))} {
			checkFloat(t, f, 64)
			checkFloat(t, f, 32)
		}
	}
}

// FuzzShortDecimal checks appendFloat against strconv on arbitrary bits.
func FuzzShortDecimal(f *testing.F) {
	f.Add(math.Float64bits(21.25))
	f.Add(math.Float64bits(float64(float32(76.07))))
	f.Add(math.Float64bits(0.1))
	f.Fuzz(func(t *testing.T, b uint64) {
		checkFloat(t, math.Float64frombits(b), 64)
		checkFloat(t, math.Float64frombits(b), 32)
		checkFloat(t, float64(math.Float32frombits(uint32(b))), 32)
	})
}
