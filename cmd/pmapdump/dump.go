package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/portmap-toolkit/pmap/internal/cliutil"
	"github.com/portmap-toolkit/pmap/internal/regfile"
	"github.com/portmap-toolkit/pmap/pkg/client"
	"github.com/portmap-toolkit/pmap/pkg/portmap"
	"github.com/portmap-toolkit/pmap/pkg/rpc"
)

// dumpAction is the command's action: check the arguments, dump, print.
func dumpAction(c *cli.Context) error {
	if done, err := printDocs(c); done {
		return err
	}
	form := c.String(flagOutput)
	switch form {
	case formClassic, formExtended, formJSON:
	default:
		return usagef(c, "unknown output form %q (want classic, extended or json)", form)
	}
	if c.NArg() > 1 {
		return usagef(c, "too many arguments: %q (options go before the host)", c.Args().Slice())
	}
	mp, err := cliutil.MapperFrom(c)
	if err != nil {
		return usagef(c, "%v", err)
	}
	cl, where := mp.Client()
	defer cl.Close()

	ctx, cancel := context.WithTimeout(c.Context, mp.Timeout)
	defer cancel()
	names := portmap.DefaultNames()
	var out []byte
	switch form {
	case formClassic:
		ms, err := cl.PmapDump(ctx)
		if err != nil {
			return dumpError(where, err)
		}
		for _, m := range ms {
			name, _ := names.Name(m.Prog)
			out = regfile.AppendClassic(out, m, name)
		}
	default:
		entries, kind, err := dumpAll(ctx, cl, names)
		if err != nil {
			return dumpError(where, err)
		}
		if form == formJSON {
			return writeJSON(c.App.Writer, kind, mp.Host, entries)
		}
		out = append(out, regfile.ExtendedHeader...)
		for _, e := range entries {
			out = e.AppendLine(out)
		}
	}
	if _, err := c.App.Writer.Write(out); err != nil {
		return fmt.Errorf("writing the dump: %w", err)
	}
	return nil
}

// writeJSON writes the JSON form, reporting a failed write.
func writeJSON(w io.Writer, kind, host string, entries []regfile.Entry) error {
	if err := regfile.WriteJSON(w, kind, host, entries); err != nil {
		return fmt.Errorf("writing the dump: %w", err)
	}
	return nil
}

// dumpAll returns every registration of the mapper: an rpcbind DUMP of
// version 4, or 3 when the mapper has no version 4, or the portmap v2 DUMP
// when it speaks only version 2; with the JSON kind that fits them.
func dumpAll(ctx context.Context, cl *client.Client, names *portmap.Names) ([]regfile.Entry, string, error) {
	for _, vers := range []uint32{portmap.V4, portmap.V3} {
		rs, err := cl.RpcbDump(ctx, vers)
		if isVersMismatch(err) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		entries := make([]regfile.Entry, len(rs))
		for i, r := range rs {
			name, _ := names.Name(r.Prog)
			entries[i] = regfile.RPCBEntry(r, name)
		}
		return entries, regfile.KindRegistrations, nil
	}
	ms, err := cl.PmapDump(ctx)
	if err != nil {
		return nil, "", err
	}
	entries := make([]regfile.Entry, len(ms))
	for i, m := range ms {
		name, _ := names.Name(m.Prog)
		entries[i] = regfile.MappingEntry(m, name)
	}
	return entries, regfile.KindMappings, nil
}

// isVersMismatch reports whether err says the mapper lacks the version asked.
func isVersMismatch(err error) bool {
	var re *rpc.Error
	return errors.As(err, &re) && re.Status == rpc.ProgVersMismatch
}

// dumpError words a failed dump: where it went and libtirpc's words for what
// happened.
func dumpError(where string, err error) error {
	var re *rpc.Error
	if errors.As(err, &re) {
		switch re.Status {
		case rpc.SystemError, rpc.UnknownHost, rpc.CantSend, rpc.CantRecv, rpc.TimedOut:
			return fmt.Errorf("can't contact the port mapper at %s: %s", where, re.Text())
		}
		return fmt.Errorf("the port mapper at %s failed to list its registrations: %s", where, re.Text())
	}
	return fmt.Errorf("the port mapper at %s: %w", where, err)
}
