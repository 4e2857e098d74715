// Command escapehoard is the tenant-isolation test guest: it keeps every
// payload it has ever seen in a global and answers each message with all of
// them, newline-separated, oldest first. Whatever one instance's memory
// holds, its outputs show; the sandbox tests check that a chain never shows
// another chain's messages.
package main

import (
	"bytes"

	"github.com/tributary-gw/tributary/sdk"
)

var seen [][]byte

func init() { sdk.Map(hoard) } // c-shared modules never run main

func main() {}

func hoard(m *sdk.Message) error {
	seen = append(seen, bytes.Clone(m.Payload()))
	m.SetPayload(bytes.Join(seen, []byte("\n")))
	return nil
}
