package main

import "math"

// A fast path for strconv.AppendFloat(dst, f, 'g', -1, bits), which costs
// about 250 ns in a Go wasm guest (its shortest-digits search multiplies
// 128-bit numbers in software): the sensor values Sparkplug carries are
// mostly short decimals (21.25, 76.07), found here with a few float
// divisions. It answers only when it can prove its digits are the ones
// strconv's shortest formatting picks; otherwise it declines and the
// caller uses strconv. FuzzShortDecimal checks it against strconv.

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// maxShortDecimals bounds the decimals tried: longer decimals are left to
// strconv.
const maxShortDecimals = 8

// appendShortDecimal appends f formatted as strconv.AppendFloat(dst, f,
// 'g', -1, bits) would, when f is a decimal with at most maxShortDecimals
// decimals, 1e-4 <= |f| < 1e6 (strconv's %f range for shortest 'g'), and
// the proof below holds; ok is false, and dst unchanged, otherwise.
//
// The shortest decimal that rounds to f has the fewest decimals k: in
// that range one with fewer digits has fewer decimals, and one with k-1
// decimals is one with k. So for k = 0, 1, … it asks whether some integer
// M makes M/10^k round to f; the first k with one gives the digits. Only
// M = round(|f|·10^k) can: an M that rounds to f lies within half an ulp
// of |f| scaled by 10^k, which limit keeps under 1/8 (ulp <= |f|·2^-52,
// or 2^-23 for float32), and the product's rounding error is as small,
// so M is within 1/4 of the computed product.
func appendShortDecimal(dst []byte, f float64, bits int) ([]byte, bool) {
	af := math.Abs(f)
	if !(af >= 1e-4 && af < 1e6) {
		return dst, false
	}
	limit := float64(1 << 50)
	var lo, hi float64 // float32's rounding interval, (lo, hi) or [lo, hi]
	if bits == 32 {
		limit = 1 << 21
		// af is a positive float32 below the largest: its neighbours are
		// the adjacent bit patterns (math.Nextafter32, which is a call).
		b := math.Float32bits(float32(af))
		lo = (af + float64(math.Float32frombits(b-1))) / 2
		hi = (af + float64(math.Float32frombits(b+1))) / 2
	}
	for k := 0; k <= maxShortDecimals; k++ {
		p := af * pow10[k]
		if p >= limit {
			return dst, false
		}
		m := math.Floor(p + 0.5) // exact: p's ulp is at most 1/8
		if m == 0 {
			continue
		}
		// q is the float64 nearest M/10^k (M and 10^k are exact), which
		// is what ParseFloat returns for that decimal.
		q := m / pow10[k]
		if bits != 32 {
			if q == af {
				return appendDecimal(dst, f < 0, uint64(m), k), true
			}
			continue
		}
		// float32's interval ends are float64s, and rounding is
		// monotonic: q strictly on one side of an end proves the exact
		// quotient is on that side; q on an end proves nothing.
		switch {
		case q > lo && q < hi:
			return appendDecimal(dst, f < 0, uint64(m), k), true
		case q == lo || q == hi:
			return dst, false
		}
	}
	return dst, false
}

// appendDecimal appends the decimal n·10^-k (n > 0) as strconv's %f
// formatting of its shortest digits: no trailing zeros after the point, a
// leading 0 before it when n < 10^k. The digits are written backwards into
// an array and appended at once.
func appendDecimal(dst []byte, neg bool, n uint64, k int) []byte {
	for k > 0 && n%10 == 0 {
		n /= 10
		k--
	}
	var buf [32]byte // n < 2^53: at most 16 digits, a point and a sign
	i := len(buf)
	for range k {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	if k > 0 {
		i--
		buf[i] = '.'
	}
	for {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	if neg {
		i--
		buf[i] = '-'
	}
	return append(dst, buf[i:]...)
}
