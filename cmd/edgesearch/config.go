package main

import (
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/edgesearch/edgesearch/indexer"
	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/web"
)

// config is every setting, resolved once at start; the rest of the program
// reads it and never looks at flags or the environment again.
type config struct {
	Addr        string
	QdrantAddr  string // serve: where the Qdrant-compatible API listens; "" = not at all
	DataDir     string
	ModelPath   string
	Threads     int    // embedder workers; 0 = one per core
	IdleThreads int    // serve: workers kept when idle (the rest start on demand)
	APIKey      string // trimmed and checked (web.CheckAPIKey); "" = none
	CORSOrigins []string
	MaxBody     int64 // bytes
	MaxTexts    int
	FacetScan   int // search.EngineOptions.FacetScan
	MaxTokens   int // 0 = the model's own limit
	MaxBatch    int // 0 = the embedder's default
	Queue       int // 0 = the embedder's default
	BulkQueue   int // 0 = the embedder's default
	BulkWait    time.Duration
	MaxWait     time.Duration
	LogLevel    string
	LogFormat   string

	// Parse bounds the parse of each imported or uploaded file.
	Parse indexer.Limits
	// MaxDocuments and MaxFiles bound one POST /documents (serve).
	MaxDocuments int
	MaxFiles     int
	// IOTimeout cuts a client that stops sending or reading (serve).
	IOTimeout time.Duration

	// Profile is "standard" or "small" (profile.go), chosen by --profile or
	// for the machine; ProfileWhy says why, for the startup log. The small
	// profile sets HNSW, MemoryLimit and QuantizedModel, and defaults that
	// the user left alone (threads, queues).
	Profile, ProfileWhy string
	HNSW                search.Params // zero fields: the search package's defaults
	MemoryLimit         int64         // the Go runtime's soft limit; 0 = none
	QuantizedModel      bool          // the default model is the q8_0 one
	StoreFloat16        bool          // vectors written in half precision (store.Options.Float16)

	// AllowedHosts are the extra Host names serve answers to
	// (web.Config.AllowedHosts).
	AllowedHosts []string
	// Backend is serve's --backend: the cluster new collections are made
	// in (a zero URL keeps them all local) and the bound on a call to it
	// (parseBackend).
	Backend backendConfig
	// Runtime runs the guest (embedder.Options.Runtime); checkRuntime
	// resolved it to a name this binary has.
	Runtime string
	// Warnings are things resolving noticed and fixed (a key with spaces
	// around it) that the command logs once it has a logger; none holds
	// the key.
	Warnings []string
}

// setting is one configuration value and where it may come from, in order.
type setting struct {
	flag string   // flag name; "" if none
	env  []string // environment variables, in precedence order
	def  string   // default, as text
}

// settings lists the sources of each config field. The seed server's names
// (PORT, MODEL_PATH, threads, ctx_size, batch_size, enable_log) come after
// ours so existing deployments keep working.
var settings = map[string]setting{
	"addr":          {flag: "addr", env: []string{"EDGESEARCH_ADDR"}, def: defaultAddr},
	"profile":       {flag: "profile", env: []string{"EDGESEARCH_PROFILE"}, def: profileAuto},
	"qdrant-addr":   {flag: "qdrant-addr", env: []string{"EDGESEARCH_QDRANT_ADDR"}},
	"backend":       {flag: "backend", env: []string{"EDGESEARCH_BACKEND"}, def: "local"},
	"data":          {flag: "data", env: []string{"EDGESEARCH_DATA"}},
	"model":         {flag: "model", env: []string{"EDGESEARCH_MODEL", "MODEL_PATH"}},
	"threads":       {flag: "threads", env: []string{"EDGESEARCH_THREADS", "threads"}, def: "0"},
	"api-key":       {flag: "api-key", env: []string{"EDGESEARCH_API_KEY"}},
	"api-key-file":  {flag: "api-key-file", env: []string{"EDGESEARCH_API_KEY_FILE"}},
	"allowed-hosts": {flag: "allowed-hosts", env: []string{"EDGESEARCH_ALLOWED_HOSTS"}},
	"cors-origins":  {flag: "cors-origins", env: []string{"EDGESEARCH_CORS_ORIGINS"}},
	"max-body":      {flag: "max-body", env: []string{"EDGESEARCH_MAX_BODY"}, def: "8MiB"},
	"max-texts":     {flag: "max-texts", env: []string{"EDGESEARCH_MAX_TEXTS"}, def: "2048"},
	"facet-scan":    {flag: "facet-scan", env: []string{"EDGESEARCH_FACET_SCAN"}, def: "100000"},
	"max-tokens":    {flag: "max-tokens", env: []string{"EDGESEARCH_MAX_TOKENS", "ctx_size"}, def: "0"},
	"runtime":       {flag: "runtime", env: []string{"EDGESEARCH_RUNTIME"}, def: "wazero"},
	"max-batch":     {flag: "max-batch", env: []string{"EDGESEARCH_MAX_BATCH", "batch_size"}, def: "0"},
	"queue":         {flag: "queue", env: []string{"EDGESEARCH_QUEUE"}, def: "0"},
	"bulk-queue":    {flag: "bulk-queue", env: []string{"EDGESEARCH_BULK_QUEUE"}, def: "0"},
	"bulk-wait":     {flag: "bulk-wait", env: []string{"EDGESEARCH_BULK_WAIT"}, def: "2s"},
	"max-wait":      {flag: "max-wait", env: []string{"EDGESEARCH_MAX_WAIT"}, def: "200ms"},
	"idle-threads":  {flag: "idle-threads", env: []string{"EDGESEARCH_IDLE_THREADS"}, def: "1"},
	"log-level":     {flag: "log-level", env: []string{"EDGESEARCH_LOG_LEVEL"}, def: "info"},
	"log-format":    {flag: "log-format", env: []string{"EDGESEARCH_LOG_FORMAT"}, def: "text"},
	"max-file-size": {flag: "max-file-size", env: []string{"EDGESEARCH_MAX_FILE_SIZE"}, def: "64MiB"},
	"max-text":      {flag: "max-text", env: []string{"EDGESEARCH_MAX_TEXT"}, def: "16MiB"},
	"max-inflated":  {flag: "max-inflated", env: []string{"EDGESEARCH_MAX_INFLATED"}, def: "128MiB"},
	"max-pages":     {flag: "max-pages", env: []string{"EDGESEARCH_MAX_PAGES"}, def: strconv.Itoa(indexer.DefaultMaxPages)},
	"max-depth":     {flag: "max-depth", env: []string{"EDGESEARCH_MAX_DEPTH"}, def: strconv.Itoa(indexer.DefaultMaxDepth)},
	"max-rows":      {flag: "max-rows", env: []string{"EDGESEARCH_MAX_ROWS"}, def: strconv.Itoa(indexer.DefaultMaxRows)},
	"parse-timeout": {flag: "parse-timeout", env: []string{"EDGESEARCH_PARSE_TIMEOUT"}, def: indexer.DefaultParseTimeout.String()},
	"max-documents": {flag: "max-documents", env: []string{"EDGESEARCH_MAX_DOCUMENTS"}, def: strconv.Itoa(web.DefaultMaxDocuments)},
	"max-files":     {flag: "max-files", env: []string{"EDGESEARCH_MAX_FILES"}, def: strconv.Itoa(web.DefaultMaxFiles)},
	"io-timeout":    {flag: "io-timeout", env: []string{"EDGESEARCH_IO_TIMEOUT"}, def: web.DefaultIOTimeout.String()},
}

// defaultAddr keeps a server that nobody configured reachable from this
// machine only; listening on the network is the user's explicit choice.
const defaultAddr = "127.0.0.1:8080"

// addCommonFlags declares the flags every command shares.
func addCommonFlags(fs *pflag.FlagSet) {
	fs.String("model", "", "`PATH` of the GGUF model (default: the one edgesearch model pull fetches)")
	fs.String("data", "", "data directory (default $XDG_DATA_HOME/edgesearch or ~/.local/share/edgesearch)")
	fs.Int("threads", 0, "embedding workers (default: one per CPU core; one in the small profile)")
	fs.String("profile", profileAuto, "auto, standard or small: small (for 512 MB–1 GB boards, and the default on 32-bit arm or under 1.5 GiB of memory) uses the q8_0 model, one worker, shorter queues, a smaller vector graph, half-precision vectors on disk and a 128 MiB soft memory limit")
	fs.Int("max-tokens", 0, "truncate texts to this many tokens (default: the model's limit)")
	fs.Int("max-batch", 0, "most texts per guest call (default 32)")
	fs.String("runtime", "wazero", runtimeHelp)
	fs.String("log-level", "info", "log level: debug, info, warn or error")
	fs.String("log-format", "text", "log format: text or json")
}

// sharedFlagsOf names, for each command, the shared flags it reads; its
// help hides the others, which it accepts and ignores (hiding a flag does
// not stop it parsing, so no command line that worked before fails now).
// A command missing here shows none of them, and a test says so.
var sharedFlagsOf = map[string][]string{
	"edgesearch serve":         {"model", "data", "threads", "profile", "max-tokens", "max-batch", "runtime", "log-level", "log-format"},
	"edgesearch embed":         {"model", "threads", "profile", "max-tokens", "max-batch", "runtime"},
	"edgesearch search":        {"model", "data", "threads", "profile", "max-tokens", "max-batch", "runtime"},
	"edgesearch import":        {"model", "data", "threads", "profile", "max-tokens", "max-batch", "runtime"},
	"edgesearch reindex":       {"model", "data", "threads", "profile", "max-tokens", "max-batch", "runtime"},
	"edgesearch backup":        {"data"},
	"edgesearch model":         {},
	"edgesearch model pull":    {"model", "profile"}, // the small profile pulls the q8_0 model
	"edgesearch model info":    {"model", "profile"},
	"edgesearch model convert": {},
	"edgesearch version":       {},
}

// showSharedFlags marks the shared flags of root hidden unless cmd reads
// them (sharedFlagsOf); root's own help shows them all. The flags are
// shared objects, so this is for the one help text a run prints.
func showSharedFlags(root, cmd *cobra.Command) {
	used := make(map[string]bool)
	for _, name := range sharedFlagsOf[cmd.CommandPath()] {
		used[name] = true
	}
	root.PersistentFlags().VisitAll(func(f *pflag.Flag) {
		f.Hidden = cmd != root && !used[f.Name]
	})
}

// addServeFlags declares the flags only `serve` has.
func addServeFlags(fs *pflag.FlagSet) {
	fs.String("addr", defaultAddr, "listen address, HOST:PORT; the default answers this machine only, :8080 or 0.0.0.0:8080 the whole network (the seed's PORT=N means 127.0.0.1:N)")
	fs.String("qdrant-addr", "", "also serve the Qdrant-compatible vector store API here, HOST:PORT (e.g. 127.0.0.1:6333, where Qdrant's clients look); same key, limits and checks as --addr (default: off)")
	fs.String("backend", "local", "where new collections of points live: local, or weaviate://HOST:PORT[?consistency=ONE&replication=2&timeout=10s&outbox_entries=100000&outbox_bytes=256MiB] for a Weaviate cluster (collections already here stay here; writes to the cluster's are answered once in this device's outbox, and delivered in order)")
	fs.String("api-key", "", "require this key as 'Authorization: Bearer KEY' or 'X-API-Key: KEY'; a key given here shows in ps, so prefer --api-key-file")
	fs.String("api-key-file", "", "read the API key from `FILE`, which holds it on one line (keep it chmod 600)")
	fs.String("cors-origins", "", "comma-separated origins (scheme://host:port) whose pages may call the API and change data; * for any, which turns the cross-origin check off (default: none)")
	fs.String("allowed-hosts", "", "comma-separated extra host names clients may use to reach the server, .example.com for a domain, * for any (IP addresses, localhost and this machine's name are always allowed)")
	fs.String("max-body", "8MiB", "largest request body, in bytes or with a K/M/G/KiB/MiB/GiB suffix")
	fs.Int("max-texts", 2048, "most texts in one embedding request (OpenAI's limit)")
	fs.Int("facet-scan", search.MaxFacetScan, "most documents or keyword postings one search's facet counts visit; past it they are partial (complete: false)")
	fs.Int("queue", 0, "query and embedding texts that may wait for a worker before requests get 503 (default 1024)")
	fs.Int("bulk-queue", 0, "document chunks that may wait for a worker before writes get 503 (default 256); queries always go first")
	fs.Duration("bulk-wait", 2*time.Second, "new writes get 503 while the oldest waiting document chunk has waited longer than this")
	fs.Duration("max-wait", 200*time.Millisecond, "queries and /embed get 503 beyond the query texts the workers embed in this time (never fewer than two per worker)")
	fs.Int("idle-threads", 1, "embedding workers kept when idle; the others (up to --threads) start when texts wait and stop after 30 s idle, each holds a model copy (~70 MB)")
	fs.Int("max-documents", web.DefaultMaxDocuments, "most documents one POST /documents may store, rows of uploaded files included")
	fs.Int("max-files", web.DefaultMaxFiles, "most files in one multipart upload")
	fs.Duration("io-timeout", web.DefaultIOTimeout, "cut a client whose upload sends nothing, or who reads nothing of an answer (a backup), for this long")
	addParseFlags(fs)
}

// addParseFlags declares the limits on parsing a file, which `serve` (for
// uploads) and `import` share; see indexer.Limits.
func addParseFlags(fs *pflag.FlagSet) {
	fs.String("max-file-size", "64MiB", "largest file parsed; larger ones fail alone")
	fs.String("max-text", "16MiB", "most text one document may hold after parsing")
	fs.String("max-inflated", "128MiB", "most bytes a PDF's compressed streams may inflate to")
	fs.Int("max-pages", indexer.DefaultMaxPages, "most pages read from one PDF")
	fs.Int("max-depth", indexer.DefaultMaxDepth, "deepest nesting followed in Markdown, HTML and a PDF's page tree")
	fs.Int("max-rows", indexer.DefaultMaxRows, "most documents in one JSONL or CSV file")
	fs.Duration("parse-timeout", indexer.DefaultParseTimeout, "longest time parsing one file may take")
}

// resolveConfig reads each setting from the first source that has it: a flag
// the user set, then the environment, then the default. Settings whose flag
// fs does not declare come from the environment and defaults alone.
func resolveConfig(fs *pflag.FlagSet, getenv func(string) string) (config, error) {
	raw := make(map[string]string, len(settings))
	from := make(map[string]string, len(settings)) // for error messages
	for name, s := range settings {
		raw[name], from[name] = s.def, "default"
		if f := fs.Lookup(s.flag); f != nil && f.Changed {
			raw[name], from[name] = f.Value.String(), "--"+s.flag
			continue
		}
		for _, env := range s.env {
			if v := getenv(env); v != "" {
				raw[name], from[name] = v, env
				break
			}
		}
	}
	// The seed's PORT is a bare port; it keeps the loopback default's
	// interface (listening beyond it takes --addr or EDGESEARCH_ADDR).
	// enable_log is a switch, not a level.
	if from["addr"] == "default" {
		if port := getenv("PORT"); port != "" {
			raw["addr"], from["addr"] = net.JoinHostPort("127.0.0.1", port), "PORT"
		}
	}
	if from["log-level"] == "default" && truthy(getenv("enable_log")) {
		raw["log-level"], from["log-level"] = "debug", "enable_log"
	}

	var cfg config
	var err error
	intOf := func(name string, min int) int {
		if err != nil {
			return 0
		}
		n, e := strconv.Atoi(strings.TrimSpace(raw[name]))
		if e != nil || n < min {
			err = usageError{fmt.Errorf("%s=%q: want a whole number ≥ %d", from[name], raw[name], min)}
		}
		return n
	}
	cfg.Addr = raw["addr"]
	cfg.QdrantAddr = raw["qdrant-addr"]
	cfg.DataDir = raw["data"]
	cfg.ModelPath = raw["model"]
	cfg.Threads = intOf("threads", 0)
	cfg.MaxTexts = intOf("max-texts", 1)
	cfg.FacetScan = intOf("facet-scan", 1)
	cfg.MaxTokens = intOf("max-tokens", 0)
	cfg.MaxBatch = intOf("max-batch", 0)
	cfg.Queue = intOf("queue", 0)
	cfg.BulkQueue = intOf("bulk-queue", 0)
	cfg.IdleThreads = intOf("idle-threads", 1)
	cfg.MaxDocuments = intOf("max-documents", 1)
	cfg.MaxFiles = intOf("max-files", 1)
	cfg.Parse.MaxPages = intOf("max-pages", 1)
	cfg.Parse.MaxDepth = intOf("max-depth", 1)
	cfg.Parse.MaxRows = intOf("max-rows", 1)
	if err != nil {
		return config{}, err
	}
	sizeOf := func(name string) int64 {
		if err != nil {
			return 0
		}
		n, e := parseSize(raw[name])
		if e != nil {
			err = usageError{fmt.Errorf("%s: %w", from[name], e)}
		}
		return n
	}
	cfg.MaxBody = sizeOf("max-body")
	cfg.Parse.MaxFileBytes = sizeOf("max-file-size")
	cfg.Parse.MaxInflatedBytes = sizeOf("max-inflated")
	if text := sizeOf("max-text"); text > math.MaxInt32 && err == nil {
		err = usageError{fmt.Errorf("%s=%q: at most 2GiB", from["max-text"], raw["max-text"])}
	} else {
		cfg.Parse.MaxTextBytes = int(text)
	}
	if err != nil {
		return config{}, err
	}
	for name, d := range map[string]*time.Duration{"parse-timeout": &cfg.Parse.Timeout, "io-timeout": &cfg.IOTimeout, "bulk-wait": &cfg.BulkWait, "max-wait": &cfg.MaxWait} {
		if *d, err = time.ParseDuration(strings.TrimSpace(raw[name])); err != nil || *d <= 0 {
			return config{}, usageError{fmt.Errorf("%s=%q: want a positive duration such as 30s or 2m", from[name], raw[name])}
		}
	}
	if cfg.Runtime, err = checkRuntime(raw["runtime"]); err != nil {
		return config{}, usageError{fmt.Errorf("%s=%w", from["runtime"], err)}
	}
	if cfg.Backend, err = parseBackend(raw["backend"]); err != nil {
		return config{}, usageError{fmt.Errorf("%s=%w", from["backend"], err)}
	}
	cfg.CORSOrigins = splitList(raw["cors-origins"])
	cfg.AllowedHosts = splitList(raw["allowed-hosts"])
	if cfg.APIKey, cfg.Warnings, err = resolveAPIKey(raw, from); err != nil {
		return config{}, err
	}
	switch cfg.LogLevel = strings.ToLower(raw["log-level"]); cfg.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return config{}, usageError{fmt.Errorf("%s=%q: want debug, info, warn or error", from["log-level"], raw["log-level"])}
	}
	switch cfg.LogFormat = strings.ToLower(raw["log-format"]); cfg.LogFormat {
	case "text", "json":
	default:
		return config{}, usageError{fmt.Errorf("%s=%q: want text or json", from["log-format"], raw["log-format"])}
	}
	if cfg.DataDir == "" {
		if cfg.DataDir, err = defaultDataDir(getenv); err != nil {
			return config{}, err
		}
	}
	if cfg.Profile, cfg.ProfileWhy, err = chooseProfile(strings.ToLower(strings.TrimSpace(raw["profile"])), runtime.GOARCH, memTotal()); err != nil {
		return config{}, usageError{fmt.Errorf("%s=%w", from["profile"], err)}
	}
	applyProfile(&cfg, from)
	if cfg.ModelPath == "" {
		cfg.ModelPath = defaultModelFor(cfg.QuantizedModel)
	}
	return cfg, nil
}

// splitList reads a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, o := range strings.Split(s, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// maxKeyFile bounds what --api-key-file reads: a key is a line, and a path
// to some large file by mistake should be an error, not a read of it.
const maxKeyFile = 4 << 10

// resolveAPIKey picks the key from --api-key or --api-key-file (or their
// environment variables), trims the spaces and line breaks around it, and
// checks what is left can be sent by a client (web.CheckAPIKey). It
// returns "" when no key is set, and warnings that never hold the key. A
// flag beats the other source's variable, as for every setting; both
// flags, or both variables, are an error: the user meant one of them.
func resolveAPIKey(raw, from map[string]string) (string, []string, error) {
	key, src := raw["api-key"], from["api-key"]
	file, fileSrc := raw["api-key-file"], from["api-key-file"]
	if key != "" && file != "" {
		keyFlag, fileFlag := strings.HasPrefix(src, "--"), strings.HasPrefix(fileSrc, "--")
		switch {
		case keyFlag == fileFlag:
			return "", nil, usageError{fmt.Errorf("%s and %s both give an API key; use one (the file keeps the key out of `ps`)", src, fileSrc)}
		case keyFlag:
			file = ""
		default:
			key = ""
		}
	}
	var warnings []string
	if file != "" {
		src = fileSrc + " " + file
		b, err := readKeyFile(file)
		if err != nil {
			return "", nil, usageError{fmt.Errorf("%s: %w", fileSrc, err)}
		}
		if w := keyFileWarning(file); w != "" {
			warnings = append(warnings, w)
		}
		// One line break at the end is how editors and echo write a file.
		key = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	}
	if key == "" && file == "" {
		return "", warnings, nil
	}
	trimmed := strings.TrimSpace(key)
	if trimmed == "" {
		return "", nil, usageError{fmt.Errorf("%s: the API key is empty; set a key, or unset it to serve without one", src)}
	}
	if trimmed != key {
		warnings = append(warnings, fmt.Sprintf("the API key from %s had spaces or line breaks around it; they were removed, clients send the key without them", src))
	}
	if err := web.CheckAPIKey(trimmed); err != nil {
		return "", nil, usageError{fmt.Errorf("%s: %w", src, err)}
	}
	return trimmed, warnings, nil
}

// readKeyFile reads a key file of at most maxKeyFile bytes.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("couldn't read the API key file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("couldn't read the API key file %s: %w", path, err)
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("API key file %s is over %d bytes; it should hold the key alone", path, maxKeyFile)
	}
	return b, nil
}

// keyFileWarning says when others than the owner may open the key file.
// It is a warning, not an error: containers and secret managers mount
// files with modes of their own, and refusing to start there helps nobody.
func keyFileWarning(path string) string {
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm()&0o077 == 0 {
		return ""
	}
	return fmt.Sprintf("API key file %s has mode %04o: group or others may read or change it; chmod 600 it", path, st.Mode().Perm())
}

// defaultDataDir follows the XDG base directory convention.
func defaultDataDir(getenv func(string) string) (string, error) {
	if x := getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "edgesearch"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("couldn't find a data directory (set --data or EDGESEARCH_DATA): %w", err)
	}
	return filepath.Join(home, ".local", "share", "edgesearch"), nil
}

func truthy(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// parseSize reads a byte count: "1048576", "512K", "8MiB", "1G" (K, M, G and
// their KiB/MiB/GiB spellings are all powers of 1024, as users of body limits expect).
func parseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult, t = 1<<10, t[:n-1]
		case 'M':
			mult, t = 1<<20, t[:n-1]
		case 'G':
			mult, t = 1<<30, t[:n-1]
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q: want a positive number of bytes, e.g. 8MiB", s)
	}
	return n * mult, nil
}
