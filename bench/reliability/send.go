package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
	"unicode/utf8"
)

// class is what became of one request; a badCase accepts a set of them.
type class uint16

const (
	cleanJSON class = 1 << iota // 4xx with the route's JSON error shape
	plainText                   // an error that is not JSON: Go's server's own answer to malformed HTTP
	success                     // 2xx or 3xx
	serverErr                   // 5xx from the application
	badBody                     // 4xx with JSON that is not the route's error shape
	closed                      // connection closed without an answer
	hang                        // no answer within the bound
	held                        // a stalled body: no answer while it is incomplete (expected)
)

var classNames = map[class]string{
	cleanJSON: "clean 4xx", plainText: "plain-text 4xx/5xx", success: "2xx/3xx", serverErr: "5xx",
	badBody: "JSON error of the wrong shape", closed: "closed, no answer", hang: "hang", held: "held (body incomplete)",
}

func (c class) String() string {
	var names []string
	for bit := cleanJSON; bit <= held; bit <<= 1 {
		if c&bit != 0 {
			names = append(names, classNames[bit])
		}
	}
	return strings.Join(names, " or ")
}

// What to do after the request's bytes are written.
const (
	thenWait       = iota // wait for the answer
	thenCloseWrite        // half-close: the server sees the body end early
	thenStall             // keep the connection open and silent
)

// Bounds of one request: an answer later than hangBound is a hang; a
// stalled body is given stallBound before the client gives up.
const (
	hangBound  = 10 * time.Second
	stallBound = 2 * time.Second
)

// answer is what the server did with one request.
type answer struct {
	status int
	body   []byte
	ctype  string
	took   time.Duration
	class  class
	err    error
}

// summary is a one-line description of the answer for the report.
func (a answer) summary() string {
	switch a.class {
	case hang, held:
		return fmt.Sprintf("no answer in %s", a.took.Round(time.Second))
	case closed:
		return fmt.Sprintf("closed without an answer (%v)", a.err)
	}
	body := strings.TrimSpace(string(a.body))
	switch {
	case body == "" && a.ctype == "":
		body = "(empty body)"
	case body == "":
		body = "(empty body, " + a.ctype + ")"
	case !utf8.ValidString(body) || strings.ContainsFunc(body, func(r rune) bool { return r < ' ' && r != '\n' && r != '\t' }):
		body = fmt.Sprintf("(%d bytes of %s)", len(a.body), a.ctype)
	}
	return fmt.Sprintf("%d %s", a.status, clip(body, 110))
}

// requestBytes renders c as it goes on the wire to hostPort, with the
// number of bytes that belong to the head (so a cut can keep them).
func requestBytes(c badCase, hostPort string) (data []byte, head int) {
	fill := func(s string) string {
		_, port, _ := net.SplitHostPort(hostPort)
		return strings.NewReplacer("{HOST}", hostPort, "{PORT}", port).Replace(s)
	}
	if c.raw != "" {
		raw := fill(c.raw)
		return []byte(raw), len(raw)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", c.method, fill(c.target))
	switch c.host {
	case "":
		fmt.Fprintf(&b, "Host: %s\r\n", hostPort)
	case "-":
	default:
		fmt.Fprintf(&b, "Host: %s\r\n", fill(c.host))
	}
	if c.ctype != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", c.ctype)
	}
	ownLength := false
	for _, h := range c.header {
		h = fill(h)
		if strings.HasPrefix(strings.ToLower(h), "content-length:") || strings.HasPrefix(strings.ToLower(h), "transfer-encoding:") {
			ownLength = true
		}
		b.WriteString(h + "\r\n")
	}
	body := c.body
	switch {
	case c.chunked:
		b.WriteString("Transfer-Encoding: chunked\r\n")
		body = chunk(c.body)
	case !ownLength && (c.body != nil || c.method == http.MethodPost):
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(c.body))
	}
	b.WriteString("Connection: close\r\n\r\n")
	head = b.Len()
	b.Write(body)
	return b.Bytes(), head
}

// chunk encodes body in chunked transfer coding, 64 KiB a chunk.
func chunk(body []byte) []byte {
	var b bytes.Buffer
	for len(body) > 0 {
		n := min(len(body), 64<<10)
		fmt.Fprintf(&b, "%x\r\n", n)
		b.Write(body[:n])
		b.WriteString("\r\n")
		body = body[n:]
	}
	b.WriteString("0\r\n\r\n")
	return b.Bytes()
}

// send writes c to the server at hostPort over a fresh connection, reads
// the answer (bounded by hangBound, or stallBound for a stalled body) and
// classifies it.
func send(c badCase, hostPort string) answer {
	start := time.Now()
	conn, err := net.DialTimeout("tcp", hostPort, 2*time.Second)
	if err != nil {
		return answer{class: closed, err: err}
	}
	defer conn.Close()
	data, head := requestBytes(c, hostPort)
	if c.cut > 0 && head+c.cut < len(data) {
		data = data[:head+c.cut]
	}
	bound := hangBound
	if c.then == thenStall {
		bound = stallBound
	}
	conn.SetDeadline(start.Add(bound))
	// Write while reading: a server may answer (413) before it has read a
	// large body, and then stop reading it.
	go func() {
		if _, err := conn.Write(data); err != nil {
			return
		}
		if c.then == thenCloseWrite {
			conn.(*net.TCPConn).CloseWrite()
		}
	}()

	br := bufio.NewReader(conn)
	var resp *http.Response
	for {
		resp, err = http.ReadResponse(br, &http.Request{Method: c.method})
		if err != nil || resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		resp.Body.Close() // 100 Continue and other interim answers
	}
	a := answer{took: time.Since(start), err: err}
	if err != nil {
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout() && c.then == thenStall:
			a.class = held
		case errors.As(err, &ne) && ne.Timeout():
			a.class = hang
		default:
			a.class = closed
		}
		return a
	}
	a.status, a.ctype = resp.StatusCode, resp.Header.Get("Content-Type")
	a.body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	a.took = time.Since(start)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			a.class, a.err = hang, fmt.Errorf("status %d, then the body never ended", a.status)
			return a
		}
	}
	a.class = classify(c, a)
	return a
}

// classify sorts an answer with a status into a class. An error answer
// that is not JSON at all is plainText: on malformed HTTP that is Go's
// server answering before any route (accepted there), anywhere else a
// defect; a 5xx counts as plainText only where plainText is accepted.
func classify(c badCase, a answer) class {
	if a.status < 400 {
		return success
	}
	if c.method == http.MethodHead {
		// No body to check; the headers say what the body would be.
		switch {
		case a.status >= 500:
			return serverErr
		case strings.Contains(a.ctype, "json"):
			return cleanJSON
		}
		return badBody
	}
	plain := !strings.Contains(a.ctype, "json") && !json.Valid(a.body)
	switch {
	case plain && (a.status < 500 || c.accept&plainText != 0):
		return plainText
	case a.status >= 500:
		return serverErr
	case errorShapeOK(a.body, isOpenAIPath(c.target)):
		return cleanJSON
	}
	return badBody
}

// isOpenAIPath reports whether target is under /v1, where errors take
// OpenAI's shape.
func isOpenAIPath(target string) bool {
	path, _, _ := strings.Cut(target, "?")
	return path == "/v1" || strings.HasPrefix(path, "/v1/")
}

// errorShapeOK reports whether body is {"error":"non-empty"} or, on the
// OpenAI routes, {"error":{"message":"…","type":"…","param":…,"code":…}}.
func errorShapeOK(body []byte, openAI bool) bool {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return false
	}
	if !openAI {
		var msg string
		return json.Unmarshal(top["error"], &msg) == nil && strings.TrimSpace(msg) != ""
	}
	var e map[string]json.RawMessage
	if json.Unmarshal(top["error"], &e) != nil {
		return false
	}
	var msg, typ string
	if json.Unmarshal(e["message"], &msg) != nil || msg == "" || json.Unmarshal(e["type"], &typ) != nil || typ == "" {
		return false
	}
	_, hasParam := e["param"]
	_, hasCode := e["code"]
	return hasParam && hasCode
}

// clip shortens s to n bytes (at a rune start) for a table cell, on one line.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		for n > 0 && s[n]&0xC0 == 0x80 {
			n--
		}
		s = s[:n] + "…"
	}
	return cell(s)
}

// cell makes s safe inside a Markdown table cell.
func cell(s string) string {
	s = strings.ToValidUTF8(s, "�")
	return strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ", "`", "'").Replace(s)
}

// logf prints progress to stderr; the report goes to stdout.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "reliability: "+format+"\n", args...)
}
