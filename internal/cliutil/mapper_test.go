package cliutil

import (
	"net"
	"path/filepath"
	"testing"
)

func TestMapperAddr(t *testing.T) {
	dir := t.TempDir()
	live := filepath.Join(dir, "rpcbind.sock")
	l, err := net.Listen("unix", live)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	missing := filepath.Join(dir, "none.sock")
	tests := []struct {
		name                   string
		m                      Mapper
		network, addr, message string
	}{
		{"local socket when it exists", Mapper{Port: 111, Socket: live}, "unix", live, live},
		{"tcp when the socket is missing", Mapper{Port: 111, Socket: missing}, "tcp", "127.0.0.1:111", "127.0.0.1 port 111"},
		{"a named socket even if missing", Mapper{Port: 111, Socket: missing, SocketSet: true}, "unix", missing, missing},
		{"--port means tcp", Mapper{Port: 11111, PortSet: true, Socket: live}, "tcp", "127.0.0.1:11111", "127.0.0.1 port 11111"},
		{"a host means tcp", Mapper{Host: "192.0.2.7", Port: 111, Socket: live}, "tcp", "192.0.2.7:111", "192.0.2.7 port 111"},
		{"IPv6 in brackets", Mapper{Host: "[::1]", Port: 111}, "tcp", "[::1]:111", "::1 port 111"},
	}
	for _, tt := range tests {
		network, addr, where := tt.m.Addr()
		if network != tt.network || addr != tt.addr || where != tt.message {
			t.Errorf("%s: got %s %s %q, want %s %s %q", tt.name, network, addr, where, tt.network, tt.addr, tt.message)
		}
	}
}
