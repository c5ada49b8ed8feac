package main

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/edgesearch/edgesearch/bench/internal/serverenv"
)

// hostileFile is one file made to cost a parser time, memory or a crash.
type hostileFile struct {
	name string // the extension picks the parser
	what string
	data []byte
}

// hostileFiles builds the files in memory; nothing is downloaded.
func hostileFiles() []hostileFile {
	return []hostileFile{
		// Not hostile: the baseline of time and memory for the rows below.
		{"control.txt", "control: a plain text file", []byte("A plain note about the garden: the beans are up and the peas need sticks.\n")},
		{"pdf-self-kid.pdf", "page tree that lists itself as its own kid", pdfSelfKid()},
		{"pdf-count-2e9.pdf", "/Count 2000000000 and one real page", pdfHugeCount()},
		{"pdf-flate-400mb.pdf", "one FlateDecode content stream that inflates to 400 MiB of Tj operators", pdfFlateBomb(400 << 20)},
		{"pdf-50mb-text.pdf", "420 pages sharing one 120 kB content stream: 50 MB of text", pdfSharedContent(420, 120_000)},
		{"md-quotes-100k.md", "100k '>' nested block quotes", []byte(strings.Repeat(">", 100_000) + " deep\n")},
		{"md-quotes-spaced-100k.md", "'> > > …' nested block quotes, 100k characters", []byte(strings.Repeat("> ", 50_000) + "deep\n")},
		{"md-quotes-7mb.md", "7 MB of '>' nested block quotes", []byte(strings.Repeat(">", 7_000_000) + " deep\n")},
		{"csv-quote.csv", `a quote inside a row's first field`, []byte("text,lang\nhe said \"hi\" there,en\n")},
		{"html-100k-divs.html", "100k nested unclosed <div>", []byte("<html><body>" + strings.Repeat("<div>", 100_000) + "deep text</body></html>")},
		{"jsonl-deep-array.jsonl", "a good row, then a row with a 100k-deep nested array", []byte(
			`{"id":"fine","text":"a good row before the deep one"}` + "\n" +
				`{"id":"deep","text":"deep row","x":` + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + "}\n")},
	}
}

// pdfObject is an indirect object: a dictionary, with a stream if stream
// is not nil (its /Length is added).
type pdfObject struct {
	dict   string
	stream []byte
}

// buildPDF writes objs as objects 1, 2, … with a correct cross-reference
// table; object 1 is the catalog.
func buildPDF(objs []pdfObject) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n", i+1)
		if o.stream != nil {
			fmt.Fprintf(&b, "<< %s /Length %d >>\nstream\n", o.dict, len(o.stream))
			b.Write(o.stream)
			b.WriteString("\nendstream\n")
		} else {
			b.WriteString(o.dict + "\n")
		}
		b.WriteString("endobj\n")
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

const (
	pdfCatalog = "<< /Type /Catalog /Pages 2 0 R >>"
	pdfFont    = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
)

// pdfPage is a page under object 2 with font object font and content object content.
func pdfPage(font, content int) string {
	return fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>", font, content)
}

func pdfSelfKid() []byte {
	return buildPDF([]pdfObject{
		{dict: pdfCatalog},
		{dict: "<< /Type /Pages /Kids [2 0 R] /Count 1 >>"},
	})
}

func pdfHugeCount() []byte {
	return buildPDF([]pdfObject{
		{dict: pdfCatalog},
		{dict: "<< /Type /Pages /Kids [3 0 R] /Count 2000000000 >>"},
		{dict: pdfPage(5, 4)},
		{stream: []byte("BT /F1 12 Tf 72 720 Td (The only real page of a file that claims two billion of them.) Tj ET")},
		{dict: pdfFont},
	})
}

// pdfFlateBomb is one page whose compressed content stream inflates to
// about size bytes of text-showing operators.
func pdfFlateBomb(size int) []byte {
	var z bytes.Buffer
	w, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	io.WriteString(w, "BT /F1 12 Tf 72 720 Td\n")
	line := "(" + strings.Repeat("a", 64) + ") Tj\n"
	block := []byte(strings.Repeat(line, (64<<10)/len(line)))
	for n := 0; n < size; n += len(block) {
		w.Write(block)
	}
	io.WriteString(w, "ET\n")
	w.Close()
	return buildPDF([]pdfObject{
		{dict: pdfCatalog},
		{dict: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>"},
		{dict: pdfPage(5, 4)},
		{dict: "/Filter /FlateDecode", stream: z.Bytes()},
		{dict: pdfFont},
	})
}

// pdfSharedContent is pages pages that all show the same uncompressed
// content stream of about textBytes of made-up words: a small file whose
// text is pages×textBytes.
func pdfSharedContent(pages, textBytes int) []byte {
	r := rand.New(rand.NewPCG(7, 11))
	syll := []string{"ka", "lo", "mi", "ten", "rus", "pa", "ve", "dor", "shi", "an", "qua", "bel", "tor", "ni", "es"}
	var s bytes.Buffer
	s.WriteString("BT /F1 10 Tf 40 760 Td\n")
	for text := 0; text < textBytes; {
		var line strings.Builder
		for line.Len() < 70 {
			for n := 1 + r.IntN(3); n > 0; n-- {
				line.WriteString(syll[r.IntN(len(syll))])
			}
			line.WriteByte(' ')
		}
		fmt.Fprintf(&s, "(%s) Tj 0 -12 Td\n", line.String())
		text += line.Len()
	}
	s.WriteString("ET\n")
	objs := []pdfObject{{dict: pdfCatalog}, {}, {dict: pdfFont}, {stream: s.Bytes()}}
	kids := make([]string, pages)
	for i := range pages {
		kids[i] = fmt.Sprintf("%d 0 R", len(objs)+1)
		objs = append(objs, pdfObject{dict: pdfPage(3, 4)})
	}
	objs[1] = pdfObject{dict: fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), pages)}
	return buildPDF(objs)
}

// Good files imported beside each hostile one; their made-up words find them.
var goodFiles = []struct{ name, word, text string }{
	{"good-alpha.txt", "zqreliabalpha", "Field notes from the alpine meadow, marked zqreliabalpha, imported beside a hostile file."},
	{"good-beta.md", "zqreliabbeta", "# Beta notes\n\nThe second good file, marked zqreliabbeta, sits in the same folder.\n"},
}

// uploadResult is what POST /documents did with one hostile file.
type uploadResult struct {
	status     int
	errMsg     string
	took       time.Duration
	hang, died bool
	peakKB     int64 // VmHWM over the request
	afterKB    int64 // VmRSS after it
	healthy    string
}

// importResult is what `edgesearch import` did with a folder holding one
// hostile file and the good files.
type importResult struct {
	exit    int
	took    time.Duration
	hang    bool
	peakKB  int64 // wait4's ru_maxrss
	good    int   // good files found afterwards
	note    string
	skipped bool
}

type hostileReport struct {
	files   []hostileFile
	uploads []uploadResult
	imports []importResult
	peakHow string
	bound   time.Duration
	skipped int
	took    time.Duration
}

// runHostile uploads each hostile file to a server and imports it with the
// CLI, each bounded by cfg.fileBound, and reports time, memory and whether
// the server (or the rest of the import) survived.
func runHostile(ctx context.Context, cfg config) (*hostileReport, error) {
	start := time.Now()
	logf("hostile files: generating")
	rep := &hostileReport{files: hostileFiles(), bound: cfg.fileBound}
	data, logs := cfg.dir("hostile-upload")
	var srv *server
	defer func() {
		if srv != nil {
			srv.stop()
		}
	}()
	rep.peakHow = "the VmHWM of a server started afresh for the file, reset after its start-up by writing 5 to /proc/PID/clear_refs"
	for i, f := range rep.files {
		remaining := time.Until(cfg.deadline)
		if ctx.Err() != nil || remaining < 15*time.Second {
			rep.skipped = len(rep.files) - i
			break
		}
		bound := min(cfg.fileBound, remaining-10*time.Second)
		// A fresh server per file: memory one file leaves behind must not
		// count as the next one's peak.
		if srv != nil {
			srv.stop()
		}
		var err error
		if srv, err = startServer(ctx, cfg, data, logs); err != nil {
			return nil, err
		}
		if err := resetPeak(srv.cmd.Process.Pid); err != nil {
			rep.peakHow = fmt.Sprintf("the VmHWM of a server started afresh for the file, start-up included (%v)", err)
		}
		// The upload and the import of a file run at once, one core each
		// (both use one embedding thread), which halves the time hangs cost.
		logf("hostile files: uploading and importing %s (%d bytes)", f.name, len(f.data))
		var im importResult
		imported := make(chan struct{})
		go func() {
			defer close(imported)
			im = importFile(cfg, i, f, bound)
		}()
		up := upload(srv, f, bound)
		<-imported
		if up.hang || up.died {
			srv.kill() // not stop: it would wait for the hung request
			srv = nil
		}
		rep.uploads = append(rep.uploads, up)
		rep.imports = append(rep.imports, im)
	}
	rep.took = time.Since(start)
	return rep, nil
}

// upload posts f as a multipart file to srv and measures the server.
func upload(srv *server, f hostileFile, bound time.Duration) uploadResult {
	body, boundary := multipartBody(part{file: f.name, data: string(f.data)})
	client := &http.Client{Timeout: bound}
	pid := srv.cmd.Process.Pid
	logFrom := fileSize(srv.logPath)
	peak := watchPeak(pid)
	start := time.Now()
	resp, err := client.Post(srv.base+"/documents", "multipart/form-data; boundary="+boundary, bytes.NewReader(body))
	var r uploadResult
	r.took = time.Since(start)
	if err == nil {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		r.status, r.errMsg = resp.StatusCode, errorMessage(b)
		if r.status >= 500 {
			r.errMsg += " — logged: " + loggedError(srv.logPath, logFrom)
		}
	}
	r.peakKB = peak()
	switch {
	case !srv.alive():
		r.died = true
		r.errMsg = fmt.Sprintf("server died: %s; log: %s", srv.cmd.ProcessState, lastLine(srv.logTail(4000)))
		r.healthy = "down"
		return r
	case err != nil && isTimeout(err):
		r.hang = true
	case err != nil:
		r.errMsg = err.Error()
	}
	if srv.answers(5 * time.Second) {
		r.healthy = "yes"
	} else {
		r.healthy = "no (5 s)"
	}
	r.afterKB, _, _ = memoryKB(pid)
	return r
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// loggedError is the err= of the last error line the server logged after
// offset from.
func loggedError(path string, from int64) string {
	b, err := os.ReadFile(path)
	if err != nil || int64(len(b)) < from {
		return "?"
	}
	found := "(no error line)"
	for _, line := range strings.Split(string(b[from:]), "\n") {
		if strings.Contains(line, "ERROR") {
			found = line
			if _, after, ok := strings.Cut(line, "err="); ok {
				found = after
			}
		}
	}
	return found
}

// errorMessage pulls the message out of {"error":"…"} or
// {"error":{"message":"…"}}; other bodies are returned clipped.
func errorMessage(body []byte) string {
	var v struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &v) == nil && v.Error != nil {
		var s string
		if json.Unmarshal(v.Error, &s) == nil {
			return s
		}
		var o struct{ Message string }
		if json.Unmarshal(v.Error, &o) == nil && o.Message != "" {
			return o.Message
		}
	}
	var ok struct {
		IDs    []string `json:"ids"`
		Chunks *int     `json:"chunks"`
	}
	if json.Unmarshal(body, &ok) == nil && ok.Chunks != nil {
		return fmt.Sprintf("stored %d documents, %d chunks", len(ok.IDs), *ok.Chunks)
	}
	return string(body)
}

// importFile runs `edgesearch import` on a folder of f and the good files
// into a fresh data directory, then looks the good files up by keyword.
func importFile(cfg config, i int, f hostileFile, bound time.Duration) importResult {
	data, dir := cfg.dir(fmt.Sprintf("hostile-import-%02d", i))
	src := filepath.Join(dir, "src")
	var r importResult
	if err := os.MkdirAll(src, 0o755); err != nil {
		r.note = err.Error()
		return r
	}
	os.WriteFile(filepath.Join(src, f.name), f.data, 0o644)
	for _, g := range goodFiles {
		os.WriteFile(filepath.Join(src, g.name), []byte(g.text), 0o644)
	}
	logPath := filepath.Join(dir, "import.log")
	out, err := os.Create(logPath)
	if err != nil {
		r.note = err.Error()
		return r
	}
	defer out.Close()
	cmd := exec.Command(cfg.bin, "import", "--data", data, "--model", cfg.model, "--threads", "1", src)
	cmd.Env = serverenv.Clean()
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		r.note = err.Error()
		return r
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(bound):
		r.hang = true
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
	}
	r.took = time.Since(start)
	r.exit = cmd.ProcessState.ExitCode()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.peakKB = int64(ru.Maxrss) // KiB on Linux; int32 on 32-bit systems
	}
	if !r.hang && r.exit != 0 {
		r.note = strings.ReplaceAll(importProblem(logPath), src+string(filepath.Separator), "")
	}
	for _, g := range goodFiles {
		if found, err := keywordFinds(cfg, data, g.word); err != nil {
			r.note = strings.TrimSpace(r.note + " search: " + err.Error())
		} else if found {
			r.good++
		}
	}
	return r
}

// importProblem is the line of an import's output that says what went
// wrong: a panic, else the first failed file, else the last line.
func importProblem(logPath string) string {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(string(b), "\n")
	for _, prefix := range []string{"panic:", "fatal error:", "failed "} {
		for _, line := range lines {
			if strings.HasPrefix(strings.TrimSpace(line), prefix) {
				return clip(strings.TrimSpace(line), 200)
			}
		}
	}
	return lastLine(string(b))
}

// keywordFinds runs `edgesearch search --mode keyword` (which needs no
// model) on data and reports whether word finds a document.
func keywordFinds(cfg config, data, word string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, cfg.bin, "search", "--data", data, "--model", cfg.model, "--mode", "keyword", "--json", "-k", "3", word)
	cmd.Env = serverenv.Clean()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if _, statErr := os.Stat(data); errors.Is(statErr, os.ErrNotExist) {
			return false, nil // nothing was imported at all
		}
		return false, fmt.Errorf("%v: %s", err, lastLine(stderr.String()))
	}
	var resp struct {
		Results []json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		return false, fmt.Errorf("search output: %w", err)
	}
	return len(resp.Results) > 0, nil
}

// lastLine is the last non-empty line of s, clipped.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return clip(lines[len(lines)-1], 200)
}

func (r *hostileReport) report(w io.Writer, cfg config) {
	fmt.Fprintf(w, "### 2. Hostile files\n\n")
	fmt.Fprintf(w, "Each file is made in code, uploaded alone (multipart POST /documents) to a server with one thread and, at the same time "+
		"(one core each), imported by `edgesearch import --data DIR --threads 1 FOLDER` from a folder that also holds %d good files. "+
		"Each step is bounded by %s, then reported as a hang and killed (RSS after is then RSS at that moment). Peak server RSS is %s; "+
		"the import's peak is wait4's ru_maxrss. Took %.0f s.\n\n", len(goodFiles), r.bound, r.peakHow, r.took.Seconds())
	fmt.Fprintln(w, "| file | size | upload answer | time | peak RSS | RSS after | /health after |")
	fmt.Fprintln(w, "|---|--:|---|--:|--:|--:|---|")
	for i, u := range r.uploads {
		f := r.files[i]
		ans := fmt.Sprintf("%d %s", u.status, clip(u.errMsg, 120))
		switch {
		case u.died:
			ans = "**server died**: " + clip(u.errMsg, 140)
		case u.hang:
			ans = fmt.Sprintf("**hang** (no answer in %s)", r.bound)
		case u.status == 0:
			ans = "no answer: " + clip(u.errMsg, 100)
		case u.status >= 500:
			ans = "**" + ans + "**"
		}
		fmt.Fprintf(w, "| %s — %s | %s | %s | %.1f s | %s | %s | %s |\n", f.name, cell(f.what), size(len(f.data)), ans,
			u.took.Seconds(), mib(u.peakKB), mib(u.afterKB), u.healthy)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "| file | import exit | time | peak RSS | good files imported | note |\n|---|--:|--:|--:|--:|---|\n")
	for i, im := range r.imports {
		f := r.files[i]
		if im.skipped {
			fmt.Fprintf(w, "| %s | skipped (time bound) | | | | |\n", f.name)
			continue
		}
		exit := fmt.Sprint(im.exit)
		if im.hang {
			exit = fmt.Sprintf("**hang** (killed at %s)", r.bound)
		}
		fmt.Fprintf(w, "| %s | %s | %.1f s | %s | %d of %d | %s |\n", f.name, exit, im.took.Seconds(), mib(im.peakKB),
			im.good, len(goodFiles), clip(im.note, 160))
	}
	if r.skipped > 0 {
		fmt.Fprintf(w, "\n%d files were not tried: the time bound ran out.\n", r.skipped)
	}
	fmt.Fprintln(w)
}

// size formats a byte count.
func size(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
