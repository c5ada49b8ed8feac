package main

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// serveFlags parses args with the flags `serve` has, as cobra would.
func serveFlags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	addCommonFlags(fs)
	addServeFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigPrecedenceIsFlagsThenOurEnvThenSeedEnvThenDefaults(t *testing.T) {
	base := map[string]string{"HOME": "/home/pi", "XDG_DATA_HOME": "", "EDGESEARCH_MODEL": "/m.gguf"}
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(config) bool
	}{
		{"defaults", nil, nil, func(c config) bool {
			return c.Addr == ":8080" && c.MaxBody == 8<<20 && c.MaxTexts == 256 && c.Threads == 0 &&
				c.LogLevel == "info" && c.LogFormat == "text" && c.CORSOrigins == nil
		}},
		{"seed PORT", nil, map[string]string{"PORT": "9000"}, func(c config) bool { return c.Addr == ":9000" }},
		{"our ADDR beats PORT", nil, map[string]string{"PORT": "9000", "EDGESEARCH_ADDR": "127.0.0.1:7000"},
			func(c config) bool { return c.Addr == "127.0.0.1:7000" }},
		{"flag beats both", []string{"--addr", "0.0.0.0:1"}, map[string]string{"PORT": "9000", "EDGESEARCH_ADDR": ":7000"},
			func(c config) bool { return c.Addr == "0.0.0.0:1" }},
		{"seed MODEL_PATH", nil, map[string]string{"EDGESEARCH_MODEL": "", "MODEL_PATH": "/seed.gguf"},
			func(c config) bool { return c.ModelPath == "/seed.gguf" }},
		{"our MODEL beats MODEL_PATH", nil, map[string]string{"MODEL_PATH": "/seed.gguf"},
			func(c config) bool { return c.ModelPath == "/m.gguf" }},
		{"seed threads, ctx_size, batch_size", nil, map[string]string{"threads": "3", "ctx_size": "128", "batch_size": "8"},
			func(c config) bool { return c.Threads == 3 && c.MaxTokens == 128 && c.MaxBatch == 8 }},
		{"our THREADS beats threads", nil, map[string]string{"threads": "3", "EDGESEARCH_THREADS": "4"},
			func(c config) bool { return c.Threads == 4 }},
		{"seed enable_log means debug", nil, map[string]string{"enable_log": "true"},
			func(c config) bool { return c.LogLevel == "debug" }},
		{"log level flag beats enable_log", []string{"--log-level", "warn"}, map[string]string{"enable_log": "1"},
			func(c config) bool { return c.LogLevel == "warn" }},
		{"sizes and lists", []string{"--max-body", "512KiB", "--cors-origins", "http://a, http://b ,"}, nil,
			func(c config) bool {
				return c.MaxBody == 512<<10 && reflect.DeepEqual(c.CORSOrigins, []string{"http://a", "http://b"})
			}},
		{"data from XDG", nil, map[string]string{"XDG_DATA_HOME": "/x"}, func(c config) bool { return c.DataDir == "/x/edgesearch" }},
		{"data from EDGESEARCH_DATA", nil, map[string]string{"EDGESEARCH_DATA": "/d", "XDG_DATA_HOME": "/x"},
			func(c config) bool { return c.DataDir == "/d" }},
		{"api key from env", nil, map[string]string{"EDGESEARCH_API_KEY": "k"}, func(c config) bool { return c.APIKey == "k" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tt.env {
				env[k] = v
			}
			cfg, err := resolveConfig(serveFlags(t, tt.args...), envOf(env))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(cfg) {
				t.Fatalf("config %+v", cfg)
			}
		})
	}
}

func TestBadConfigValuesAreUsageErrorsNamingTheSource(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"threads env", nil, map[string]string{"EDGESEARCH_THREADS": "many"}, "EDGESEARCH_THREADS"},
		{"seed threads", nil, map[string]string{"threads": "-2"}, "threads"},
		{"max body", []string{"--max-body", "lots"}, nil, "--max-body"},
		{"max body zero", nil, map[string]string{"EDGESEARCH_MAX_BODY": "0"}, "EDGESEARCH_MAX_BODY"},
		{"max texts zero", []string{"--max-texts", "0"}, nil, "--max-texts"},
		{"log level", []string{"--log-level", "loud"}, nil, "--log-level"},
		{"log format", nil, map[string]string{"EDGESEARCH_LOG_FORMAT": "xml"}, "EDGESEARCH_LOG_FORMAT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"EDGESEARCH_MODEL": "/m.gguf", "EDGESEARCH_DATA": "/d"}
			for k, v := range tt.env {
				env[k] = v
			}
			_, err := resolveConfig(serveFlags(t, tt.args...), envOf(env))
			if err == nil {
				t.Fatal("resolved, want an error")
			}
			if _, ok := errors.AsType[usageError](err); !ok {
				t.Errorf("%v is not a usage error", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%q does not name %s", err, tt.want)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"1048576", 1 << 20}, {"8MiB", 8 << 20}, {"8M", 8 << 20}, {"8mb", 8 << 20},
		{"512K", 512 << 10}, {"1GiB", 1 << 30}, {" 10 ", 10}, {"100B", 100},
		{"", -1}, {"0", -1}, {"-5", -1}, {"MiB", -1}, {"1.5M", -1}, {"9999999999G", -1},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if tt.want < 0 {
			if err == nil {
				t.Errorf("parseSize(%q) = %d, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}
