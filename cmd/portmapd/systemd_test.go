package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/portmap-toolkit/pmap/internal/testsupport"
)

// unitDir holds the systemd units of the repository.
const unitDir = "../../dist/systemd"

// unitLines returns the settings of a unit file, "Key=value" in order,
// without comments and section headers.
func unitLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		out = append(out, line)
	}
	return out
}

// setting returns the values of key in lines.
func setting(lines []string, key string) []string {
	var out []string
	for _, l := range lines {
		if k, v, ok := strings.Cut(l, "="); ok && k == key {
			out = append(out, v)
		}
	}
	return out
}

// TestSystemdUnits checks dist/systemd: systemd-analyze verify accepts both
// units (with ExecStart pointing at the built binary), the command line the
// service runs is one portmapd accepts, and, where Debian's rpcbind units
// are installed, ours listen where rpcbind.socket listens and start
// portmapd with rpcbind.service's options, environment and readiness
// protocol, so that swapping the units changes nothing else.
func TestSystemdUnits(t *testing.T) {
	svc := unitLines(t, filepath.Join(unitDir, "portmapd.service"))
	sock := unitLines(t, filepath.Join(unitDir, "portmapd.socket"))

	exe := setting(svc, "ExecStart")
	if len(exe) != 1 || !strings.HasPrefix(exe[0], "/usr/sbin/portmapd ") {
		t.Fatalf("ExecStart %q", exe)
	}
	env := setting(svc, "Environment")
	if len(env) != 1 || env[0] != `"OPTIONS=-w"` {
		t.Fatalf("Environment %q", env)
	}
	args := strings.Fields(strings.ReplaceAll(strings.TrimPrefix(exe[0], "/usr/sbin/portmapd "), "$OPTIONS", "-w"))
	if s, err := parseServer(t, args...); err != nil || s.StateFile == "" {
		t.Errorf("portmapd %v: %v, %+v", args, err, s)
	}

	if rb := "/lib/systemd/system/rpcbind.service"; fileExists(rb) {
		rsvc := unitLines(t, rb)
		rsock := unitLines(t, "/lib/systemd/system/rpcbind.socket")
		for _, key := range []string{"Type", "Environment", "EnvironmentFile", "KillMode", "Restart", "RequiresMountsFor", "Wants", "Before", "DefaultDependencies"} {
			if got, want := setting(svc, key), setting(rsvc, key); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: portmapd.service %q, rpcbind.service %q", key, got, want)
			}
		}
		if got, want := strings.Fields(exe[0])[1:], strings.Fields(setting(rsvc, "ExecStart")[0])[1:]; !reflect.DeepEqual(got, want) {
			t.Errorf("ExecStart arguments %q, rpcbind.service's %q", got, want)
		}
		for _, key := range []string{"ListenStream", "ListenDatagram", "BindIPv6Only"} {
			if got, want := setting(sock, key), setting(rsock, key); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: portmapd.socket %q, rpcbind.socket %q", key, got, want)
			}
		}
	} else {
		t.Log("Debian's rpcbind units are not installed: not compared")
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (Debian package systemd): dist/systemd not verified")
	}
	bin := filepath.Join(testsupport.BuildGo(t, "./cmd/portmapd"), "portmapd")
	dir := t.TempDir()
	for _, name := range []string{"portmapd.service", "portmapd.socket"} {
		data, err := os.ReadFile(filepath.Join(unitDir, name))
		if err != nil {
			t.Fatal(err)
		}
		data = []byte(strings.ReplaceAll(string(data), "/usr/sbin/portmapd", bin))
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, analyze, "verify", "--man=no",
		filepath.Join(dir, "portmapd.socket"), filepath.Join(dir, "portmapd.service")).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
