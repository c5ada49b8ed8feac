package main

import (
	"bufio"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/edgesearch/edgesearch/indexer"
	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/web"
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
			return c.Addr == "127.0.0.1:8080" && c.MaxBody == 8<<20 && c.MaxTexts == 2048 && c.FacetScan == search.MaxFacetScan && c.Threads == 0 &&
				c.LogLevel == "info" && c.LogFormat == "text" && c.CORSOrigins == nil
		}},
		{"seed PORT stays on loopback", nil, map[string]string{"PORT": "9000"}, func(c config) bool { return c.Addr == "127.0.0.1:9000" }},
		{"network by choice", []string{"--addr", ":8080"}, nil, func(c config) bool { return c.Addr == ":8080" }},
		{"our ADDR beats PORT", nil, map[string]string{"PORT": "9000", "EDGESEARCH_ADDR": "127.0.0.1:7000"},
			func(c config) bool { return c.Addr == "127.0.0.1:7000" }},
		{"flag beats both", []string{"--addr", "0.0.0.0:1"}, map[string]string{"PORT": "9000", "EDGESEARCH_ADDR": ":7000"},
			func(c config) bool { return c.Addr == "0.0.0.0:1" }},
		{"seed MODEL_PATH", nil, map[string]string{"EDGESEARCH_MODEL": "", "MODEL_PATH": "/seed.gguf"},
			func(c config) bool { return c.ModelPath == "/seed.gguf" }},
		{"our MODEL beats MODEL_PATH", nil, map[string]string{"MODEL_PATH": "/seed.gguf"},
			func(c config) bool { return c.ModelPath == "/m.gguf" }},
		{"facet scan from the environment", nil, map[string]string{"EDGESEARCH_FACET_SCAN": "5000"},
			func(c config) bool { return c.FacetScan == 5000 }},
		{"queues", []string{"--bulk-queue", "64"}, map[string]string{"EDGESEARCH_QUEUE": "32", "EDGESEARCH_BULK_WAIT": "500ms"},
			func(c config) bool { return c.Queue == 32 && c.BulkQueue == 64 && c.BulkWait == 500*time.Millisecond }},
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
		{"parse limits default to the indexer's", nil, nil, func(c config) bool {
			return c.Parse == indexer.Limits{MaxFileBytes: indexer.DefaultMaxFileBytes, MaxTextBytes: indexer.DefaultMaxTextBytes,
				MaxInflatedBytes: indexer.DefaultMaxInflatedBytes, MaxPages: indexer.DefaultMaxPages, MaxDepth: indexer.DefaultMaxDepth,
				MaxRows: indexer.DefaultMaxRows, Timeout: indexer.DefaultParseTimeout} &&
				c.MaxDocuments == web.DefaultMaxDocuments && c.MaxFiles == web.DefaultMaxFiles && c.IOTimeout == web.DefaultIOTimeout
		}},
		{"parse limits from flags and env", []string{"--max-file-size", "1MiB", "--max-text", "64K", "--parse-timeout", "5s", "--max-files", "3"},
			map[string]string{"EDGESEARCH_MAX_INFLATED": "2M", "EDGESEARCH_MAX_PAGES": "7", "EDGESEARCH_MAX_DEPTH": "8", "EDGESEARCH_MAX_ROWS": "9", "EDGESEARCH_MAX_DOCUMENTS": "10"},
			func(c config) bool {
				return c.Parse == indexer.Limits{MaxFileBytes: 1 << 20, MaxTextBytes: 64 << 10, MaxInflatedBytes: 2 << 20,
					MaxPages: 7, MaxDepth: 8, MaxRows: 9, Timeout: 5 * time.Second} && c.MaxFiles == 3 && c.MaxDocuments == 10
			}},
		{"allowed hosts", nil, map[string]string{"EDGESEARCH_ALLOWED_HOSTS": "search.lan, .example.com,"}, func(c config) bool {
			return reflect.DeepEqual(c.AllowedHosts, []string{"search.lan", ".example.com"})
		}},
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

// resolveBad resolves a serve configuration that must fail, checks the
// error is a usage error and returns it.
func resolveBad(t *testing.T, args []string, extraEnv map[string]string) error {
	t.Helper()
	env := map[string]string{"EDGESEARCH_MODEL": "/m.gguf", "EDGESEARCH_DATA": "/d"}
	for k, v := range extraEnv {
		env[k] = v
	}
	_, err := resolveConfig(serveFlags(t, args...), envOf(env))
	if err == nil {
		t.Fatal("resolved, want an error")
	}
	if _, ok := errors.AsType[usageError](err); !ok {
		t.Errorf("%v is not a usage error", err)
	}
	return err
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
		{"facet scan zero", []string{"--facet-scan", "0"}, nil, "--facet-scan"},
		{"log level", []string{"--log-level", "loud"}, nil, "--log-level"},
		{"log format", nil, map[string]string{"EDGESEARCH_LOG_FORMAT": "xml"}, "EDGESEARCH_LOG_FORMAT"},
		{"parse timeout", []string{"--parse-timeout", "0s"}, nil, "--parse-timeout"},
		{"parse timeout env", nil, map[string]string{"EDGESEARCH_PARSE_TIMEOUT": "soon"}, "EDGESEARCH_PARSE_TIMEOUT"},
		{"io timeout", []string{"--io-timeout", "-1s"}, nil, "--io-timeout"},
		{"max file size", nil, map[string]string{"EDGESEARCH_MAX_FILE_SIZE": "-1"}, "EDGESEARCH_MAX_FILE_SIZE"},
		{"max pages", []string{"--max-pages", "0"}, nil, "--max-pages"},
		{"max text over 2GiB", []string{"--max-text", "3G"}, nil, "--max-text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := resolveBad(t, tt.args, tt.env); !strings.Contains(err.Error(), tt.want) {
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

// keyFile writes content to a new file with mode and returns its path.
func keyFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // WriteFile's mode is subject to the umask
		t.Fatal(err)
	}
	return path
}

func TestAPIKeyIsTrimmedReadFromAFileAndNeverInAWarning(t *testing.T) {
	const key = "s3cret-key"
	private := keyFile(t, key+"\n", 0o600)
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		warnings []string // each must appear in one warning
	}{
		{"key file with a trailing newline", []string{"--api-key-file", private}, nil, nil},
		{"key file from env", nil, map[string]string{"EDGESEARCH_API_KEY_FILE": private}, nil},
		{"key file with CRLF", []string{"--api-key-file", keyFile(t, key+"\r\n", 0o600)}, nil, nil},
		{"key file with spaces around", []string{"--api-key-file", keyFile(t, "  "+key+" \n\n", 0o600)}, nil, []string{"removed"}},
		{"key file others may read", []string{"--api-key-file", keyFile(t, key, 0o644)}, nil, []string{"chmod 600"}},
		{"key in env with a newline", nil, map[string]string{"EDGESEARCH_API_KEY": key + "\n"}, []string{"EDGESEARCH_API_KEY", "removed"}},
		{"key flag with spaces", []string{"--api-key", " " + key + " "}, nil, []string{"--api-key", "removed"}},
		{"key flag beats the file's variable", []string{"--api-key", key}, map[string]string{"EDGESEARCH_API_KEY_FILE": "/nonexistent"}, nil},
		{"file flag beats the key's variable", []string{"--api-key-file", private}, map[string]string{"EDGESEARCH_API_KEY": "other"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"EDGESEARCH_MODEL": "/m.gguf", "EDGESEARCH_DATA": "/d"}
			for k, v := range tt.env {
				env[k] = v
			}
			cfg, err := resolveConfig(serveFlags(t, tt.args...), envOf(env))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.APIKey != key {
				t.Fatalf("API key %q, want %q", cfg.APIKey, key)
			}
			all := strings.Join(cfg.Warnings, "\n")
			if len(tt.warnings) == 0 && all != "" {
				t.Errorf("unexpected warnings: %s", all)
			}
			for _, w := range tt.warnings {
				if !strings.Contains(all, w) {
					t.Errorf("warnings %q do not say %q", all, w)
				}
			}
			if strings.Contains(all, key) {
				t.Errorf("a warning holds the key: %s", all)
			}
		})
	}
}

func TestBadAPIKeysAreRefusedAtStart(t *testing.T) {
	const key = "s3cret-key"
	file := keyFile(t, key, 0o600)
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"both flags", []string{"--api-key", key, "--api-key-file", file}, nil, "--api-key and --api-key-file"},
		{"both variables", nil, map[string]string{"EDGESEARCH_API_KEY": key, "EDGESEARCH_API_KEY_FILE": file}, "EDGESEARCH_API_KEY"},
		{"blank key", nil, map[string]string{"EDGESEARCH_API_KEY": " \n"}, "empty"},
		{"empty key file", []string{"--api-key-file", keyFile(t, "\n", 0o600)}, nil, "empty"},
		{"missing key file", []string{"--api-key-file", "/nonexistent/key"}, nil, "--api-key-file"},
		{"key file too large", []string{"--api-key-file", keyFile(t, strings.Repeat("k", 5000), 0o600)}, nil, "over"},
		{"two words", []string{"--api-key", "s3cret key"}, nil, "one word"},
		{"two lines in the file", []string{"--api-key-file", keyFile(t, "s3cret\nkey\n", 0o600)}, nil, "line break"},
		{"control character", nil, map[string]string{"EDGESEARCH_API_KEY": "s3cret\x1bkey"}, "control"},
		{"non-ASCII", []string{"--api-key", "schlüssel-s3cret"}, nil, "non-ASCII"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := resolveBad(t, tt.args, tt.env)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%q does not say %q", err, tt.want)
			}
			for _, secret := range []string{key, "s3cret"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error shows the key: %q", err)
				}
			}
		})
	}
}

func TestExposureWarningsNameWhatIsExposed(t *testing.T) {
	tests := []struct {
		name  string
		ip    string
		keyed bool
		want  []string // one string each warning must contain, in order
	}{
		{"loopback", "127.0.0.1", false, nil},
		{"IPv6 loopback", "::1", false, nil},
		{"every interface, keyed", "0.0.0.0", true, []string{"every device on every network"}},
		{"one interface, no key", "192.168.1.20", false, []string{"192.168.1.20", "NO API KEY"}},
		{"every IPv6 interface, no key", "::", false, []string{"every device", "--api-key-file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := exposureWarnings(&net.TCPAddr{IP: net.ParseIP(tt.ip), Port: 8080}, tt.keyed)
			if len(got) != len(tt.want) {
				t.Fatalf("warnings %q, want %d", got, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %q does not say %q", got[i], w)
				}
			}
		})
	}
}

// TestServeLogsWhatItFixedAndExposesButNeverTheKey starts the real binary
// on every interface, with a key, and reads its log up to "starting":
// the warnings are there, the key is not.
func TestServeLogsWhatItFixedAndExposesButNeverTheKey(t *testing.T) {
	const key = "s3cret-key"
	cmd := exec.Command(binary, "serve", "--addr", "0.0.0.0:0", "--log-format", "json",
		"--api-key-file", keyFile(t, " "+key+" \n", 0o644), "--data", t.TempDir())
	cmd.Env = []string{"HOME=" + t.TempDir(), "MODEL_PATH=" + modelPath(t)}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var log []string
	for lines := bufio.NewScanner(stderr); lines.Scan(); {
		log = append(log, lines.Text())
		if strings.Contains(lines.Text(), `"msg":"starting"`) {
			break
		}
	}
	all := strings.Join(log, "\n")
	for _, want := range []string{"removed", "chmod 600", "listening beyond this machine", `"auth":true`} {
		if !strings.Contains(all, want) {
			t.Errorf("the log does not say %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, key) {
		t.Errorf("the log shows the key:\n%s", all)
	}
}
