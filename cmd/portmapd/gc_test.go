package main

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestGCSettings checks how --gc-percent and --memory-limit combine with
// GOGC and GOMEMLIMIT in the environment.
func TestGCSettings(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want gcConfig
		err  bool
	}{
		{"default", nil, nil, gcConfig{percent: defaultGCPercent, setPercent: true}, false},
		{"GOGC wins over the default", nil, map[string]string{"GOGC": "200"}, gcConfig{}, false},
		{"the flag wins over GOGC", []string{"--gc-percent", "30"}, map[string]string{"GOGC": "200"}, gcConfig{percent: 30, setPercent: true}, false},
		{"off", []string{"--gc-percent", "-1"}, nil, gcConfig{percent: -1, setPercent: true}, false},
		{"below -1", []string{"--gc-percent", "-2"}, nil, gcConfig{}, true},
		{"limit MiB", []string{"--memory-limit", "16MiB"}, nil, gcConfig{percent: defaultGCPercent, setPercent: true, limit: 16 << 20, setLimit: true}, false},
		{"limit bytes", []string{"--memory-limit", "2000000"}, map[string]string{"GOMEMLIMIT": "1GiB"}, gcConfig{percent: defaultGCPercent, setPercent: true, limit: 2000000, setLimit: true}, false},
		{"limit GiB", []string{"--memory-limit", "1GiB"}, nil, gcConfig{percent: defaultGCPercent, setPercent: true, limit: 1 << 30, setLimit: true}, false},
		{"GOMEMLIMIT left alone", nil, map[string]string{"GOMEMLIMIT": "8MiB"}, gcConfig{percent: defaultGCPercent, setPercent: true}, false},
		{"limit too small", []string{"--memory-limit", "16"}, nil, gcConfig{}, true},
		{"limit not a number", []string{"--memory-limit", "lots"}, nil, gcConfig{}, true},
		{"limit unknown unit", []string{"--memory-limit", "16MB"}, nil, gcConfig{}, true},
		{"limit overflows", []string{"--memory-limit", "9000000000000GiB"}, nil, gcConfig{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got gcConfig
			var gerr error
			app := newApp(io.Discard, io.Discard, nil)
			app.Action = func(c *cli.Context) error {
				got, gerr = gcSettings(c, func(k string) string { return tt.env[k] })
				return nil
			}
			if err := app.RunContext(context.Background(), append([]string{"portmapd"}, tt.args...)); err != nil {
				t.Fatal(err)
			}
			if tt.err {
				if !errors.As(gerr, new(usageError)) {
					t.Errorf("err = %v, want a usage error", gerr)
				}
				return
			}
			if gerr != nil || got != tt.want {
				t.Errorf("got %+v, %v; want %+v", got, gerr, tt.want)
			}
		})
	}
}
