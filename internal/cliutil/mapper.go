package cliutil

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/portmap-toolkit/pmap/pkg/client"
)

// Names of the flags that say which port mapper a command talks to.
const (
	FlagPort    = "port"
	FlagTimeout = "timeout"
	FlagSocket  = "socket"
)

// MapperFlags returns the --port, --timeout and --socket flags shared by the
// commands that talk to one port mapper; timeoutUsage says what the timeout
// bounds for that command.
func MapperFlags(timeout time.Duration, timeoutUsage string) []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: FlagPort, Value: 111, Usage: "port of the port mapper on the host (TCP)"},
		&cli.DurationFlag{Name: FlagTimeout, Value: timeout, Usage: timeoutUsage},
		&cli.StringFlag{Name: FlagSocket, Value: client.DefaultSocket, Usage: "unix socket of the local port mapper, used when no host and no --port are given", TakesFile: true},
	}
}

// Mapper is the port mapper a command talks to: its host operand ("" for the
// local mapper) and the flags of MapperFlags.
type Mapper struct {
	Host      string
	Port      int
	PortSet   bool
	Socket    string
	SocketSet bool
	Timeout   time.Duration
}

// MapperFrom reads the mapper of c's first operand and flags, checking the
// port and the timeout; the error is a sentence for a usage message.
func MapperFrom(c *cli.Context) (Mapper, error) {
	m := Mapper{
		Host: c.Args().First(), Port: c.Int(FlagPort), PortSet: c.IsSet(FlagPort),
		Socket: c.String(FlagSocket), SocketSet: c.IsSet(FlagSocket), Timeout: c.Duration(FlagTimeout),
	}
	if m.Port < 1 || m.Port > 65535 {
		return m, fmt.Errorf("bad --port %d (want 1 to 65535)", m.Port)
	}
	if m.Timeout <= 0 {
		return m, fmt.Errorf("bad --timeout %v (want a positive duration such as 5s)", m.Timeout)
	}
	return m, nil
}

// Addr returns the network and address to dial, and a description of it for
// messages: the local mapper's unix socket when no host and no port are
// given and the socket exists (or was named), TCP to the host (127.0.0.1 by
// default) otherwise.
func (m Mapper) Addr() (network, addr, where string) {
	if m.Host == "" && !m.PortSet && (m.SocketSet || isSocket(m.Socket)) {
		return "unix", m.Socket, m.Socket
	}
	host := m.Host
	if host == "" {
		host = "127.0.0.1"
	}
	if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	return "tcp", net.JoinHostPort(host, strconv.Itoa(m.Port)), fmt.Sprintf("%s port %d", host, m.Port)
}

// Client returns a port mapper client for m and the description of Addr.
func (m Mapper) Client() (*client.Client, string) {
	network, addr, where := m.Addr()
	if network == "unix" {
		return client.Local(&client.Options{Socket: addr}), where
	}
	host, _, _ := net.SplitHostPort(addr)
	return client.New(host, &client.Options{Port: m.Port}), where
}

// isSocket reports whether path is a unix socket.
func isSocket(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode()&os.ModeSocket != 0
}
