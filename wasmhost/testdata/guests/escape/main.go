// Command escape is the sandbox test guest: each message's payload names
// one attempt to reach outside the sandbox, and the output payload reports
// what the attempt got, "ok:" followed by what was read, or "err:" followed
// by the error:
//
//	readfile:PATH   os.ReadFile(PATH)
//	readdir:PATH    os.ReadDir(PATH), the names joined by commas
//	create:PATH     os.WriteFile(PATH, "escaped", 0o644)
//	getenv:NAME     os.Getenv(NAME) and os.LookupEnv(NAME)
//	environ         os.Environ(), joined by commas
//	args            os.Args, joined by commas
//	stdin           io.ReadAll(os.Stdin)
//	dial:ADDR       net.Dial("tcp", ADDR), then the peer address
//	listen:ADDR     net.Listen("tcp", ADDR), then the listener's address;
//	                the listener stays open for the instance's lifetime
//	peek:ADDR       reads 8 bytes at linear-memory address ADDR (decimal),
//	                which traps when ADDR is outside the guest's memory
//
// The wasmhost sandbox tests send these and check that every attempt fails
// or comes back empty.
package main

import (
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"github.com/tributary-gw/tributary/sdk"
)

// listeners keeps what "listen" opened, so a later "dial" can reach it.
var listeners []net.Listener

func init() { sdk.Map(attempt) } // c-shared modules never run main

func main() {}

func attempt(m *sdk.Message) error {
	cmd, arg, _ := strings.Cut(string(m.Payload()), ":")
	got, err := try(cmd, arg)
	if err != nil {
		m.SetPayload([]byte("err:" + err.Error()))
		return nil
	}
	m.SetPayload([]byte("ok:" + got))
	return nil
}

func try(cmd, arg string) (string, error) {
	switch cmd {
	case "readfile":
		b, err := os.ReadFile(arg)
		return string(b), err
	case "readdir":
		ents, err := os.ReadDir(arg)
		names := make([]string, 0, len(ents))
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return strings.Join(names, ","), err
	case "create":
		return "", os.WriteFile(arg, []byte("escaped"), 0o644)
	case "getenv":
		v, ok := os.LookupEnv(arg)
		if !ok && os.Getenv(arg) == "" {
			return "", errors.New("not set")
		}
		return v + os.Getenv(arg), nil
	case "environ":
		return strings.Join(os.Environ(), ","), nil
	case "args":
		return strings.Join(os.Args, ","), nil
	case "stdin":
		b, err := io.ReadAll(os.Stdin)
		return string(b), err
	case "dial":
		c, err := net.Dial("tcp", arg)
		if err != nil {
			return "", err
		}
		defer c.Close()
		return c.RemoteAddr().String(), nil
	case "listen":
		ln, err := net.Listen("tcp", arg)
		if err != nil {
			return "", err
		}
		listeners = append(listeners, ln)
		return ln.Addr().String(), nil
	case "peek":
		addr, err := strconv.ParseUint(arg, 10, 32)
		if err != nil {
			return "", err
		}
		v := *(*uint64)(unsafe.Add(unsafe.Pointer(nil), uintptr(addr))) // deliberately out of bounds
		return strconv.FormatUint(v, 10), nil
	}
	return "", errors.New("unknown attempt " + cmd)
}
