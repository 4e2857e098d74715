package devstack

import (
	"errors"
	"fmt"
	"net"
	"strconv"
)

// loopback is the only interface devstack listens on.
const loopback = "127.0.0.1"

// Listen opens a TCP listener on 127.0.0.1:port. Port 0 picks a free port. When the port is
// taken and fallback is set, Listen picks a free port instead and reports fellBack; without
// fallback it returns the error, naming the port.
func Listen(port int, fallback bool) (ln net.Listener, fellBack bool, err error) {
	if port < 0 || port > 65535 {
		return nil, false, fmt.Errorf("port %d: out of range 0..65535", port)
	}
	addr := net.JoinHostPort(loopback, strconv.Itoa(port))
	ln, err = net.Listen("tcp", addr)
	if err == nil {
		return ln, false, nil
	}
	if !fallback || port == 0 {
		return nil, false, fmt.Errorf("listen on %s: %w", addr, err)
	}
	ln, ferr := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
	if ferr != nil {
		return nil, false, fmt.Errorf("listen on %s: %w", addr, errors.Join(err, ferr))
	}
	return ln, true, nil
}

// ReserveAddr finds a host:port on 127.0.0.1 for a server that opens its own listener (the
// gateway's admin endpoint), with Listen's rules for port and fallback. The port is free when
// ReserveAddr returns; another process could still take it before the server listens.
func ReserveAddr(port int, fallback bool) (addr string, fellBack bool, err error) {
	ln, fellBack, err := Listen(port, fallback)
	if err != nil {
		return "", false, err
	}
	addr = ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", false, fmt.Errorf("release %s: %w", addr, err)
	}
	return addr, fellBack, nil
}
