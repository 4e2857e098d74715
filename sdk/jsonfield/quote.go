package jsonfield

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// plain marks the bytes AppendString copies as they are.
var plain = func() (p [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		p[c] = c != '"' && c != '\\'
	}
	return p
}()

// AppendString appends s to dst as a JSON string and returns the extended slice. Quotes and
// backslashes are escaped with a backslash, \b, \f, \n, \r and \t by name, other control characters
// as \u00XX, and invalid UTF-8 becomes \ufffd, so the result reads back as encoding/json
// writes it (except that <, >, & and U+2028/U+2029 are left as they are). Runs of bytes that
// need no escaping are copied at once: guests call it compiled to wasm, where every loop
// iteration costs several times what it does natively.
//
// It is the one JSON string writer of the module: the gateway's dead-letter envelope, the
// edits and builders of this package and the sparkplug plugin all use it.
func AppendString[S ~string | ~[]byte](dst []byte, s S) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if plain[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		// A rune is at most utf8.UTFMax bytes; converting that much of a
		// []byte to a string does not allocate.
		r, n := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			start = i + 1
		}
		i += n
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
