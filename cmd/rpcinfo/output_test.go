package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/portmap-toolkit/pmap/internal/render"
	"github.com/portmap-toolkit/pmap/internal/testsupport"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
)

// TestOutputForms runs each mode with -o json and -o table against the
// reference registry and checks them against the classic output of the same
// mode: the JSON document parsed back holds the classic rows' values, and the
// table holds every classic row's words.
func TestOutputForms(t *testing.T) {
	if !testsupport.Isolate(t) {
		return
	}
	testsupport.StartRpcbind(t)
	reg := newRegistrar(t)
	seed(t, reg)
	serveAndRegister(t, reg, progLive, 1, 3)

	classicRows := func(args ...string) [][]string {
		res := runOurs(t, nil, args...)
		if res.rc != 0 {
			t.Fatalf("rpcinfo %q: %v", args, res)
		}
		var rows [][]string
		for _, l := range strings.Split(strings.TrimSuffix(res.out, "\n"), "\n") {
			rows = append(rows, strings.Fields(l))
		}
		return rows
	}
	jsonDoc := func(v any, args ...string) {
		t.Helper()
		res := runOurs(t, nil, append([]string{"-o", "json"}, args...)...)
		dec := json.NewDecoder(strings.NewReader(res.out))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			t.Fatalf("rpcinfo -o json %q: %v\n%v", args, err, res)
		}
	}
	svc := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	check := func(what string, got, want [][]string) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d rows in JSON, %d in the classic output", what, len(got), len(want))
		}
		for i := range got {
			if strings.Join(got[i], " ") != strings.Join(want[i], " ") {
				t.Errorf("%s row %d: JSON %q, classic %q", what, i, got[i], want[i])
			}
		}
	}

	var maps render.MappingsDocument
	jsonDoc(&maps, "-p", "127.0.0.1")
	var rows [][]string
	for _, m := range maps.Mappings {
		rows = append(rows, strings.Fields(strings.Join([]string{u64(uint64(m.Program)), u64(uint64(m.Version)), m.Protocol, u64(uint64(m.Port)), m.Service}, " ")))
	}
	check("-p", rows, classicRows("-p", "127.0.0.1")[1:])
	if maps.Schema != render.Schema || maps.Kind != render.KindMappings || maps.Host != "127.0.0.1" {
		t.Errorf("-p header: %+v", maps.Header)
	}

	var regs render.RegistrationsDocument
	jsonDoc(&regs)
	rows = nil
	for _, r := range regs.Registrations {
		rows = append(rows, []string{u64(uint64(r.Program)), u64(uint64(r.Version)), r.Netid, r.Address, svc(r.Service), r.Owner})
	}
	check("listing", rows, classicRows()[1:])

	var sum render.SummaryDocument
	jsonDoc(&sum, "-s", "::1")
	rows = nil
	for _, p := range sum.Programs {
		var vs []string
		for _, v := range p.Versions {
			vs = append(vs, u64(uint64(v)))
		}
		rows = append(rows, []string{u64(uint64(p.Program)), strings.Join(vs, ","), strings.Join(p.Netids, ","), svc(p.Service), p.Owner})
	}
	check("-s", rows, classicRows("-s", "::1")[1:])

	var addrs render.AddressesDocument
	jsonDoc(&addrs, "-l", "127.0.0.1", "nfs", "3")
	rows = nil
	for _, e := range addrs.Entries {
		rows = append(rows, []string{u64(uint64(addrs.Program)), u64(uint64(addrs.Version)), e.Family + "/" + e.Protocol + "/" + e.Semantics, e.Address, svc(addrs.Service)})
	}
	check("-l", rows, classicRows("-l", "127.0.0.1", "nfs", "3")[1:])

	var pings render.PingDocument
	jsonDoc(&pings, "-t", "127.0.0.1", "536870913")
	rows = nil
	for _, p := range pings.Results {
		state := "ready and waiting"
		if !p.OK {
			state = "is not available"
		}
		rows = append(rows, strings.Fields("program "+u64(p.Program)+" version "+u64(p.Version)+" "+state))
	}
	check("-t", rows, classicRows("-t", "127.0.0.1", "536870913"))

	// A failed ping: the cause is in the document, not on standard error.
	res := runOurs(t, nil, "-o", "json", "-t", "127.0.0.1", "100000", "7")
	var bad render.PingDocument
	if err := json.Unmarshal([]byte(res.out), &bad); err != nil || res.rc != 1 || res.err != "" ||
		len(bad.Results) != 1 || bad.Results[0].OK || bad.Results[0].Error != "RPC: Program/version mismatch; low version = 2, high version = 4" {
		t.Errorf("failed ping as JSON: %+v, %v", bad, res)
	}

	var st render.StatisticsDocument
	jsonDoc(&st, "-m")
	if len(st.Versions) != 3 || st.Versions[2].Procedures[portmap.RpcbGetstat].Calls < 1 {
		t.Errorf("-m as JSON: %+v", st)
	}

	// Tables: every word of every classic row is in the table, and there
	// are no colors unless asked for.
	for _, args := range [][]string{{"-p"}, {"-s", "127.0.0.1"}, {"-l", "127.0.0.1", "100003", "3"}, {"-t", "127.0.0.1", "536870913"}} {
		table := runOurs(t, nil, append([]string{"-o", "table"}, args...)...)
		if table.rc != 0 || strings.Contains(table.out, "\x1b[") {
			t.Errorf("rpcinfo -o table %q: %v", args, table)
		}
		for _, row := range classicRows(args...)[1:] {
			for _, w := range row {
				if args[0] == "-t" && (w == "program" || w == "version" || w == "ready" || w == "and" || w == "waiting") {
					continue
				}
				for _, part := range strings.Split(w, "/") { // -l's class is three columns
					if !strings.Contains(table.out, part) {
						t.Errorf("rpcinfo -o table %q lacks %q:\n%s", args, part, table.out)
					}
				}
			}
		}
	}
	colored := runOurs(t, nil, "-o", "table", "--color", "always", "-p")
	if !strings.Contains(colored.out, "\x1b[36mportmapper\x1b[0m") {
		t.Errorf("--color always: no color:\n%s", colored.out)
	}
}

// TestColorChoice checks when the table form is colored.
func TestColorChoice(t *testing.T) {
	tests := []struct {
		terminal bool
		env      map[string]string
		flag     string
		want     bool
	}{
		{true, nil, "", true},
		{false, nil, "", false},
		{true, map[string]string{"NO_COLOR": "1"}, "", false},
		{true, map[string]string{"TERM": "dumb"}, "", false},
		{false, nil, "always", true},
		{true, map[string]string{"NO_COLOR": "1"}, "always", true},
		{true, nil, "never", false},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		r := &runner{stdout: &out, stderr: &errb, terminal: tt.terminal, names: portmap.BuiltinNames(),
			getenv: func(k string) string { return tt.env[k] }}
		// -b without operands is a usage error, found after the options
		// are configured and before anything is called.
		r.main(context.Background(), []string{"rpcinfo", "-o", "table", "--color", orAuto(tt.flag), "-b"})
		if r.cfg.color != tt.want {
			t.Errorf("terminal %v env %v --color %q: color %v, want %v", tt.terminal, tt.env, tt.flag, r.cfg.color, tt.want)
		}
	}
}

func orAuto(s string) string {
	if s == "" {
		return colorAuto
	}
	return s
}
