package server

import (
	"net"
	"os"
	"strings"
	"testing"
)

// TestActivationEnv checks the reading of the LISTEN_* variables: nothing
// unless LISTEN_PID names this process, a count out of bounds refused.
func TestActivationEnv(t *testing.T) {
	const pid = 4242
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"no variables", nil, ""},
		{"another process", map[string]string{"LISTEN_PID": "1", "LISTEN_FDS": "2"}, ""},
		{"pid not a number", map[string]string{"LISTEN_PID": "x", "LISTEN_FDS": "2"}, ""},
		{"no count", map[string]string{"LISTEN_PID": "4242"}, ""},
		{"zero", map[string]string{"LISTEN_PID": "4242", "LISTEN_FDS": "0"}, ""},
		{"negative", map[string]string{"LISTEN_PID": "4242", "LISTEN_FDS": "-1"}, "want a count from 0 to 64"},
		{"too many", map[string]string{"LISTEN_PID": "4242", "LISTEN_FDS": "65"}, "want a count from 0 to 64"},
		{"garbage", map[string]string{"LISTEN_PID": "4242", "LISTEN_FDS": "three"}, "want a count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, err := activationFiles(func(k string) string { return tt.env[k] }, pid)
			if files != nil {
				t.Errorf("files %v, want none", files)
			}
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestInheritedListeners serves sockets handed over as files, as socket
// activation hands them: each is served and registered as its own.
func TestInheritedListeners(t *testing.T) {
	tl, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	ul, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	tf, _ := tl.(*net.TCPListener).File()
	uf, _ := ul.(*net.UDPConn).File()
	ls, err := inheritedListeners([]*os.File{tf, uf}, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	defer ls.close()
	if len(ls.stream) != 1 || len(ls.packet) != 1 ||
		ls.stream[0].Addr().String() != tl.Addr().String() || ls.packet[0].LocalAddr().String() != ul.LocalAddr().String() {
		t.Errorf("listeners %v %v", ls.stream, ls.packet)
	}
}
