package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"time"
)

// badCase is one malformed or hostile request. Strings may hold {HOST}
// (the server's host:port) and {PORT}, filled in when it is sent, since a
// server restarted after a hang listens on another port.
type badCase struct {
	group   string
	name    string
	method  string
	target  string   // path and query exactly as on the request line
	host    string   // Host header: "" the server's own, "-" none
	ctype   string   // Content-Type, if any
	header  []string // more header lines, as sent
	body    []byte
	chunked bool   // send the body in chunked transfer coding
	raw     string // the whole request as is, instead of the fields above
	cut     int    // send only this many bytes of the body
	then    int    // thenWait, thenCloseWrite or thenStall
	accept  class  // the classes that count as handled; default cleanJSON
}

func req(method, target string) badCase { return badCase{method: method, target: target} }

// rawReq is a request written out by hand, {HOST} filled in.
func rawReq(text string) badCase { return badCase{method: http.MethodGet, raw: text} }

func (c badCase) json(body string) badCase {
	c.ctype, c.body = "application/json", []byte(body)
	return c
}

func (c badCase) typed(ctype string, body []byte) badCase {
	c.ctype, c.body = ctype, body
	return c
}

func (c badCase) with(header ...string) badCase {
	c.header = append(append([]string(nil), c.header...), header...)
	return c
}

func (c badCase) hostIs(h string) badCase   { c.host = h; return c }
func (c badCase) ok(cl class) badCase       { c.accept = cl; return c }
func (c badCase) named(n string) badCase    { c.name = n; return c }
func (c badCase) inChunks() badCase         { c.chunked = true; return c }
func (c badCase) cutAt(n, then int) badCase { c.cut, c.then = n, then; return c }

// Accepted outcomes beyond the default.
const (
	either    = cleanJSON | success            // refusing or doing it are both fine
	transport = cleanJSON | plainText | closed // malformed HTTP: Go's server may answer first
)

// overLimit is a body size over the server's default 8 MiB limit.
const overLimit = 9 << 20

// badCases is the table of hostile requests. The requests that aim at the
// seeded documents (cross-origin writes, a rebinding Host) are how the
// damage check can fail.
func badCases() []badCase {
	words := func(n int) string { return strings.Repeat("word ", n/5) }
	nest := func(open, close string, n int) string { return strings.Repeat(open, n) + strings.Repeat(close, n) }
	bigDoc := `{"text":"` + words(overLimit) + `"}`
	many := func(n int, item string) string {
		return "[" + strings.TrimSuffix(strings.Repeat(item+",", n), ",") + "]"
	}
	const evil = "http://evil.example"

	docs := []badCase{
		req("POST", "/documents").json("").named("empty body"),
		req("POST", "/documents").json(" \n\t ").named("whitespace body"),
		req("POST", "/documents").json("null").named("null"),
		req("POST", "/documents").json("true").named("true"),
		req("POST", "/documents").json("42").named("a number"),
		req("POST", "/documents").json(`"just a string"`).named("a string"),
		req("POST", "/documents").json(`{}`).named("object without text"),
		req("POST", "/documents").json(`{"text":""}`).named("empty text"),
		req("POST", "/documents").json(`{"text":"   \n "}`).named("blank text"),
		req("POST", "/documents").json(`{"text":123}`).named("text is a number"),
		req("POST", "/documents").json(`{"text":null}`).named("text is null"),
		req("POST", "/documents").json(`{"text":["a","b"]}`).named("text is an array"),
		req("POST", "/documents").json(`{"text":{"a":"b"}}`).named("text is an object"),
		req("POST", "/documents").json(`{"text":"ok","id":123}`).named("id is a number"),
		req("POST", "/documents").json(`{"text":"ok","id":["a"]}`).named("id is an array"),
		req("POST", "/documents").json(`{"text":"ok","title":["x"]}`).named("title is an array"),
		req("POST", "/documents").json(`{"text":"ok","metadata":"x"}`).named("metadata is a string"),
		req("POST", "/documents").json(`{"text":"ok","metadata":{"a":1}}`).named("metadata value a number"),
		req("POST", "/documents").json(`{"text":"ok","metadata":{"a":{"b":"c"}}}`).named("metadata value an object"),
		req("POST", "/documents").json(`{"text":"ok","metadata":[1,2]}`).named("metadata is an array"),
		req("POST", "/documents").json(`{"text":"ok","source":5}`).named("source is a number"),
		req("POST", "/documents").json(`[]`).named("empty array"),
		req("POST", "/documents").json(`[1,2,3]`).named("array of numbers"),
		req("POST", "/documents").json(`[{"text":"fine"},{"text":""}]`).named("array with one empty text"),
		req("POST", "/documents").json(`[null]`).named("array of null"),
		req("POST", "/documents").json(`{"documents":null}`).named(`"documents": null`),
		req("POST", "/documents").json(`{"documents":{}}`).named(`"documents": object`),
		req("POST", "/documents").json(`{"documents":[]}`).named(`"documents": empty`),
		req("POST", "/documents").json(`{"documents":"x"}`).named(`"documents": string`),
		req("POST", "/documents").json(`{"text":"one"} {"text":"two"}`).named("two JSON values"),
		req("POST", "/documents").json(`{"text":"ok"`).named("unterminated object"),
		req("POST", "/documents").json(`{"text":"ok",}`).named("trailing comma"),
		req("POST", "/documents").json(`{'text':'ok'}`).named("single quotes"),
		req("POST", "/documents").json(`{"text":"ok"}garbage`).named("garbage after the value"),
		req("POST", "/documents").json("{\"text\":\"bad \xff\xfe bytes\"}").named("invalid UTF-8 in text"),
		req("POST", "/documents").json("{\"text\":\"overlong \xc0\xaf slash\"}").named("overlong UTF-8 in text"),
		req("POST", "/documents").json("{\"te\xffxt\":\"ok\"}").named("invalid UTF-8 in a key"),
		req("POST", "/documents").json(`{"id":"rel-surrogate","text":"lone \ud800 surrogate"}`).ok(either).named("lone surrogate escape"),
		req("POST", "/documents").json(`{"id":"rel-nul","text":"a\u0000b with a NUL"}`).ok(either).named("NUL in text"),
		req("POST", "/documents").json("\xef\xbb\xbf{\"id\":\"rel-bom\",\"text\":\"after a BOM\"}").ok(either).named("byte order mark first"),
		req("POST", "/documents").json(nest("[", "]", 100_000)).named("100k nested arrays"),
		req("POST", "/documents").json(strings.Repeat(`{"a":`, 100_000) + "1" + strings.Repeat("}", 100_000)).named("100k nested objects"),
		req("POST", "/documents").json(`{"text":"ok","metadata":{"a":` + nest("[", "]", 20_000) + `}}`).named("20k nested arrays in metadata"),
		req("POST", "/documents").json(`{"text":"ok","x":1e999999}`).ok(either).named("number out of range in an unknown field"),
		req("POST", "/documents").json(`{"id":"` + strings.Repeat("i", 1<<20) + `","text":"ok"}`).named("1 MiB id"),
		req("POST", "/documents").json(`{"id":"` + strings.Repeat("i", 40_000) + `","text":"ok"}`).named("40 kB id (over bbolt's key limit)"),
		req("POST", "/documents").json(`{"id":"rel/slash","text":"an id with a slash"}`).ok(either).named("id with a slash"),
		req("POST", "/documents").json(`{"id":"rel\nline","text":"an id with a newline"}`).ok(either).named("id with a newline"),
		req("POST", "/documents").json(`{"id":"","text":"an empty id"}`).ok(either).named("empty id"),
		req("POST", "/documents").json(`{"id":"rel-meta-key","text":"ok","metadata":{"":"empty key"}}`).ok(either).named("empty metadata key"),
		req("POST", "/documents").json(bigDoc).named("9 MiB body with Content-Length"),
		req("POST", "/documents").json(bigDoc).inChunks().named("9 MiB body, chunked"),
		req("POST", "/documents").json(distinctDocs(10_001)).named("10,001 documents"),
		req("POST", "/documents").typed("text/plain", []byte(`{"id":"rel-plain","text":"sent as text/plain"}`)).ok(either).named("JSON as text/plain, no Origin"),
		req("POST", "/documents").typed("application/x-www-form-urlencoded", []byte("text=hello+form")).named("form-urlencoded"),
		req("POST", "/documents").typed("", []byte(`{"id":"rel-noctype","text":"no content type"}`)).ok(either).named("no Content-Type"),
		req("POST", "/documents").typed("application/json; charset=latin1", []byte("{\"text\":\"caf\xe9\"}")).named("latin1 body"),
		req("POST", "/documents").typed(";;;", []byte(`{"id":"rel-ctype","text":"odd content type"}`)).ok(either).named("unparsable Content-Type"),
		req("POST", "/documents").typed("application/json", gz(`{"text":"gzipped"}`)).with("Content-Encoding: gzip").named("gzip body, Content-Encoding: gzip"),
	}

	mp := func(name, ctype string, parts ...part) badCase {
		body, boundary := multipartBody(parts...)
		c := req("POST", "/documents").typed("multipart/form-data; boundary="+boundary, body).named(name)
		if ctype != "" {
			c.ctype = ctype
		}
		return c
	}
	manyFiles := make([]part, 101)
	for i := range manyFiles {
		manyFiles[i] = part{file: fmt.Sprintf("rel-many-%03d.txt", i), data: fmt.Sprintf("small file %d", i)}
	}
	multi := []badCase{
		mp("multipart without boundary", "multipart/form-data", part{file: "a.txt", data: "x"}),
		mp("multipart boundary, JSON body", "", part{}).typed("multipart/form-data; boundary=zzz", []byte(`{"text":"x"}`)),
		mp("only a form field", "", part{field: "text", data: "a field, no file"}),
		mp("unsupported extension .exe", "", part{file: "tool.exe", data: "MZ\x90\x00"}),
		mp("no extension", "", part{file: "README", data: "plain words"}),
		mp("path in the file name", "", part{file: "../../etc/rel-passwd.txt", data: "traversal in a name"}).ok(either),
		mp("empty file name", "", part{file: "", data: "nameless"}),
		mp("empty .txt", "", part{file: "empty.txt", data: ""}),
		mp("binary .txt", "", part{file: "junk.txt", data: "\x00\x01\x02\xff\xfe\x00binary\x00"}),
		mp("latin1 .txt", "", part{file: "rel-latin1.txt", data: "caf\xe9 cr\xe8me"}).ok(either),
		mp("not a PDF", "", part{file: "fake.pdf", data: "this is not a PDF"}),
		mp("truncated PDF header", "", part{file: "cut.pdf", data: "%PDF-1.4\n1 0 obj\n<< /Type /Cat"}),
		mp("bad JSONL row", "", part{file: "rows.jsonl", data: "{\"text\":\"fine\"}\n{\n"}),
		mp("JSONL row without text", "", part{file: "rows.jsonl", data: "{\"title\":\"no text\"}\n"}),
		mp("CSV without a text column", "", part{file: "rows.csv", data: "title,lang\nhello,en\n"}),
		mp("HTML with no text", "", part{file: "tags.html", data: "<html><body><div></div></body></html>"}),
		mp("101 files", "", manyFiles...),
		mp("9 MiB file", "", part{file: "big.txt", data: words(overLimit)}),
		mp("unclosed multipart", "", part{file: "a.txt", data: "x"}).cutFinal(),
	}

	index := []badCase{
		req("POST", "/index").json("").named("empty body"),
		req("POST", "/index").json(`{"text":`).named("truncated JSON"),
		req("POST", "/index").json(`{"title":"no text"}`).named("no text"),
		req("POST", "/index").typed("text/plain", []byte(`{"id":"rel-index-plain","text":"plain"}`)).ok(either).named("JSON as text/plain, no Origin"),
		req("POST", "/index").json(bigDoc).named("9 MiB body"),
		req("GET", "/index").named("GET"),
	}

	searchGet := []badCase{
		req("GET", "/search").named("no q"),
		req("GET", "/search?q=").named("empty q"),
		req("GET", "/search?q=%20%20").named("blank q"),
		req("GET", "/search?q=x&k=0").named("k=0"),
		req("GET", "/search?q=x&k=-1").named("k=-1"),
		req("GET", "/search?q=x&k=abc").named("k=abc"),
		req("GET", "/search?q=x&k=1e3").named("k=1e3"),
		req("GET", "/search?q=x&k=1.5").named("k=1.5"),
		req("GET", "/search?q=x&k=101").named("k=101"),
		req("GET", "/search?q=x&k=99999999999999999999").named("k past int64"),
		req("GET", "/search?q=x&k=").named("empty k"),
		req("GET", "/search?q=x&mode=bogus").named("mode=bogus"),
		req("GET", "/search?q=x&mode=KEYWORD").ok(either).named("mode in capitals"),
		req("GET", "/search?q=x&mode=%00").named("mode=NUL"),
		req("GET", "/search?q=the+and+of&mode=keyword").ok(either).named("stop words only, keyword"),
		req("GET", "/search?q=x&filter=novalue").named("filter without ="),
		req("GET", "/search?q=x&filter==v").named("filter with empty key"),
		req("GET", "/search?q=x&filter=a=1&filter=a=2").named("filter key twice"),
		req("GET", "/search?q=x&filter=a%00=b").ok(either).named("filter key with NUL"),
		req("GET", "/search?q=%FF%FE").ok(either).named("q invalid UTF-8"),
		req("GET", "/search?q=%00").ok(either).named("q is a NUL"),
		req("GET", "/search?q=%").ok(transport).named("bad percent escape"),
		req("GET", "/search?q="+strings.Repeat("w", 100_000)+"&mode=keyword").ok(either).named("100 kB q, keyword"),
		req("GET", "/search?q="+strings.Repeat("word+", 20_000)).ok(either).named("100 kB q, hybrid"),
		req("GET", "/search?q="+strings.Repeat("w", 2<<20)).ok(transport).named("2 MiB URL"),
		req("POST", "/search?q=x").json("").named("POST with the query in the URL, empty body"),
	}

	searchPost := []badCase{
		req("POST", "/search").json("").named("empty body"),
		req("POST", "/search").json(`not json`).named("not JSON"),
		req("POST", "/search").json(`{}`).named("no q"),
		req("POST", "/search").json(`{"q":""}`).named("empty q"),
		req("POST", "/search").json(`{"q":1}`).named("q is a number"),
		req("POST", "/search").json(`{"q":null}`).named("q is null"),
		req("POST", "/search").json(`{"q":["x"]}`).named("q is an array"),
		req("POST", "/search").json(`{"q":"x","k":0}`).named("k 0"),
		req("POST", "/search").json(`{"q":"x","k":-5}`).named("k -5"),
		req("POST", "/search").json(`{"q":"x","k":1.5}`).named("k 1.5"),
		req("POST", "/search").json(`{"q":"x","k":"3"}`).named(`k "3"`),
		req("POST", "/search").json(`{"q":"x","k":1e10}`).named("k 1e10"),
		req("POST", "/search").json(`{"q":"x","k":101}`).named("k 101"),
		req("POST", "/search").json(`{"q":"x","mode":5}`).named("mode a number"),
		req("POST", "/search").json(`{"q":"x","mode":"bogus"}`).named("mode bogus"),
		req("POST", "/search").json(`{"q":"x","filter":5}`).named("filter a number"),
		req("POST", "/search").json(`{"q":"x","filter":{"a":1}}`).named("filter value a number"),
		req("POST", "/search").json(`{"q":"x","filter":{"a":{"b":"c"}}}`).named("filter value an object"),
		req("POST", "/search").json(`{"q":"x","filter":["novalue"]}`).named("filter pair without ="),
		req("POST", "/search").json(`{"q":"x","filter":"a"}`).named("filter string without ="),
		req("POST", "/search").json(`{"q":"x","filter":` + nest("[", "]", 50_000) + `}`).named("filter 50k nested"),
		req("POST", "/search").json("{\"q\":\"\xff\"}").named("q invalid UTF-8"),
		req("POST", "/search").json(bigDoc).named("9 MiB body"),
		req("POST", "/search").typed("text/plain", []byte(`{"q":"x"}`)).ok(either).named("JSON as text/plain"),
	}

	embed := []badCase{
		req("POST", "/embed").json("").named("empty body"),
		req("POST", "/embed").json(`{}`).named("no text"),
		req("POST", "/embed").json(`[]`).named("an array body"),
		req("POST", "/embed").json(`{"text":""}`).named("empty text"),
		req("POST", "/embed").json(`{"text":5}`).named("text a number"),
		req("POST", "/embed").json(`{"text":null}`).named("text null"),
		req("POST", "/embed").json(`{"texts":[]}`).named("texts empty"),
		req("POST", "/embed").json(`{"texts":"x"}`).named("texts a string"),
		req("POST", "/embed").json(`{"texts":[1]}`).named("texts of numbers"),
		req("POST", "/embed").json(`{"texts":[""]}`).named("texts with an empty one"),
		req("POST", "/embed").json(`{"texts":[null]}`).named("texts with null"),
		req("POST", "/embed").json(`{"texts":[["a"]]}`).named("texts nested"),
		req("POST", "/embed").json(`{"text":"a","texts":["b"]}`).named("text and texts"),
		req("POST", "/embed").json(`{"texts":` + many(257, `"t"`) + `}`).named("257 texts"),
		req("POST", "/embed").json("{\"text\":\"\xff\"}").named("invalid UTF-8"),
		req("POST", "/embed").json(`{"text":"` + words(overLimit) + `"}`).named("9 MiB text"),
		req("POST", "/embed").json(`{"text":"` + words(7<<20) + `"}`).ok(either).named("7 MiB text (under the limit)"),
		req("POST", "/embed").json(`{"texts":` + nest("[", "]", 100_000) + `}`).named("texts 100k nested"),
		req("POST", "/embed").typed("application/json", gz(`{"text":"gzipped"}`)).with("Content-Encoding: gzip").named("gzip body"),
		req("GET", "/embed").named("GET"),
	}

	v1 := []badCase{
		req("POST", "/v1/embeddings").json("").named("empty body"),
		req("POST", "/v1/embeddings").json(`not json`).named("not JSON"),
		req("POST", "/v1/embeddings").json(`[]`).named("an array body"),
		req("POST", "/v1/embeddings").json(`{}`).named("no input"),
		req("POST", "/v1/embeddings").json(`{"input":null}`).named("input null"),
		req("POST", "/v1/embeddings").json(`{"input":5}`).named("input a number"),
		req("POST", "/v1/embeddings").json(`{"input":true}`).named("input true"),
		req("POST", "/v1/embeddings").json(`{"input":{}}`).named("input an object"),
		req("POST", "/v1/embeddings").json(`{"input":""}`).named("input empty"),
		req("POST", "/v1/embeddings").json(`{"input":[]}`).named("input empty array"),
		req("POST", "/v1/embeddings").json(`{"input":[""]}`).named("input array with empty"),
		req("POST", "/v1/embeddings").json(`{"input":[1,2,3]}`).named("token ids"),
		req("POST", "/v1/embeddings").json(`{"input":[[1,2],[3]]}`).named("token id arrays"),
		req("POST", "/v1/embeddings").json(`{"input":[-1]}`).named("negative token id"),
		req("POST", "/v1/embeddings").json(`{"input":["ok",5]}`).named("mixed array"),
		req("POST", "/v1/embeddings").json(`{"input":[null]}`).named("array of null"),
		req("POST", "/v1/embeddings").json(`{"input":"x","encoding_format":"hex"}`).named("encoding_format hex"),
		req("POST", "/v1/embeddings").json(`{"input":"x","encoding_format":5}`).named("encoding_format a number"),
		req("POST", "/v1/embeddings").json(`{"input":"x","encoding_format":"BASE64"}`).named("encoding_format in capitals"),
		req("POST", "/v1/embeddings").json(`{"input":"x","dimensions":10}`).named("dimensions 10"),
		req("POST", "/v1/embeddings").json(`{"input":"x","dimensions":"384"}`).named(`dimensions "384"`),
		req("POST", "/v1/embeddings").json(`{"input":"x","dimensions":-1}`).named("dimensions -1"),
		req("POST", "/v1/embeddings").json(`{"input":"x","model":5}`).ok(either).named("model a number"),
		req("POST", "/v1/embeddings").json(`{"input":"x","user":{"a":1}}`).ok(either).named("user an object"),
		req("POST", "/v1/embeddings").json(`{"input":` + many(3000, `"t"`) + `}`).named("3000 inputs"),
		req("POST", "/v1/embeddings").json(`{"input":` + many(20_000, "7") + `}`).named("20k token ids"),
		req("POST", "/v1/embeddings").json(`{"input":"` + words(overLimit) + `"}`).named("9 MiB input"),
		req("POST", "/v1/embeddings").json(`{"input":"` + words(7<<20) + `"}`).ok(either).named("7 MiB input (under the limit)"),
		req("POST", "/v1/embeddings").json("{\"input\":\"\xff\xfe\"}").named("invalid UTF-8"),
		req("POST", "/v1/embeddings").json(`{"input":` + nest("[", "]", 100_000) + `}`).named("input 100k nested"),
		req("GET", "/v1/embeddings").named("GET"),
		req("POST", "/v1/models").named("POST /v1/models"),
		req("DELETE", "/v1/models").named("DELETE /v1/models"),
		req("GET", "/v1/models/nope").named("GET a model by id"),
		req("GET", "/v1/chat/completions").named("unknown /v1 route"),
		req("GET", "/v1/models?limit=-1").ok(either).named("GET /v1/models with a junk query"),
	}

	ids := []badCase{
		req("GET", "/documents/%2e%2e").named("id .."),
		req("GET", "/documents/..%2F..%2Fetc%2Fpasswd").named("id ../../etc/passwd"),
		req("GET", "/documents/%00").named("id NUL"),
		req("GET", "/documents/%0A").named("id newline"),
		req("GET", "/documents/%FF%FE").named("id invalid UTF-8"),
		req("GET", "/documents/%F0%9F%98%80").named("id emoji"),
		req("GET", "/documents/%25").named("id %"),
		req("GET", "/documents/a%20b").named("id with a space"),
		req("GET", "/documents/%2F").named("id /"),
		req("GET", "/documents/"+strings.Repeat("i", 100_000)).named("100 kB id"),
		req("GET", "/documents/%").ok(transport).named("bad percent escape"),
		req("GET", "/documents/seed-1/extra/segments").named("extra segments"),
		req("GET", "/documents/").ok(either).named("trailing slash"),
		req("GET", "/documents?limit=0").named("limit=0"),
		req("GET", "/documents?limit=-1").named("limit=-1"),
		req("GET", "/documents?limit=abc").named("limit=abc"),
		req("GET", "/documents?limit=1001").named("limit=1001"),
		req("GET", "/documents?offset=-1").named("offset=-1"),
		req("GET", "/documents?offset=99999999999").named("offset past int32"),
		req("DELETE", "/documents/%2e%2e").named("DELETE id .."),
		req("DELETE", "/documents/no-such-document").named("DELETE unknown id"),
		req("DELETE", "/documents/%00").named("DELETE id NUL"),
		req("DELETE", "/documents/%FF").named("DELETE id invalid UTF-8"),
		req("DELETE", "/documents/"+strings.Repeat("i", 100_000)).named("DELETE 100 kB id"),
		req("DELETE", "/documents").named("DELETE without id"),
		req("PUT", "/documents/seed-1").json(`{"text":"put"}`).named("PUT"),
		req("PATCH", "/documents/seed-1").json(`{"text":"patch"}`).named("PATCH"),
	}

	similar := []badCase{
		req("GET", "/documents/no-such-document/similar").named("unknown id"),
		req("GET", "/documents/seed-1/similar?k=0").named("k=0"),
		req("GET", "/documents/seed-1/similar?k=-1").named("k=-1"),
		req("GET", "/documents/seed-1/similar?k=abc").named("k=abc"),
		req("GET", "/documents/seed-1/similar?k=1000").named("k=1000"),
		req("GET", "/documents/seed-1/similar?chunk=-1").named("chunk=-1"),
		req("GET", "/documents/seed-1/similar?chunk=abc").named("chunk=abc"),
		req("GET", "/documents/seed-1/similar?chunk=999999").named("chunk past the end"),
		req("GET", "/documents/seed-1/similar?chunk=1e99").named("chunk=1e99"),
		req("GET", "/documents/seed-1/similar?filter=novalue").named("filter without ="),
		req("POST", "/documents/seed-1/similar").named("POST"),
	}

	others := []badCase{
		req("POST", "/backup").named("POST /backup"),
		req("DELETE", "/backup").named("DELETE /backup"),
		req("GET", "/backup?format=zip").ok(either).named("GET /backup with a junk query"),
		req("POST", "/metrics").named("POST /metrics"),
		req("POST", "/health").named("POST /health"),
		req("HEAD", "/health").ok(either).named("HEAD /health"),
		req("OPTIONS", "/health").ok(either).named("OPTIONS /health"),
		req("GET", "/health?verbose=%FF").ok(either).named("GET /health with a junk query"),
		req("GET", "/").with("Accept: application/json").ok(either).named("GET / as JSON"),
		req("DELETE", "/").named("DELETE /"),
		req("GET", "/ui/..%2F..%2Fgo.mod").named("UI path traversal, escaped"),
		req("GET", "/ui/../../etc/passwd").ok(either).named("UI path traversal, raw (net/http cleans it)"),
		req("GET", "/openapi.json").ok(either).named("GET /openapi.json"),
		req("GET", "/nope").named("unknown route"),
	}

	methods := []badCase{
		req("TRACE", "/").named("TRACE /"),
		req("FOO", "/health").named("method FOO"),
		req("get", "/health").named("method in lower case"),
		req("PROPFIND", "/documents").named("PROPFIND /documents"),
		req("PUT", "/search").json(`{"q":"x"}`).named("PUT /search"),
		req("PATCH", "/embed").json(`{"text":"x"}`).named("PATCH /embed"),
		req("DELETE", "/search").named("DELETE /search"),
		req("HEAD", "/documents/no-such-document").ok(either).named("HEAD an unknown document"),
		req("OPTIONS", "/documents").with("Origin: "+evil, "Access-Control-Request-Method: POST").ok(either).named("preflight from another origin"),
		req(strings.Repeat("M", 10_000), "/health").ok(transport).named("10 kB method name"),
		rawReq("CONNECT {HOST} HTTP/1.1\r\nHost: {HOST}\r\n\r\n").ok(transport).named("CONNECT"),
		rawReq("G(T /health HTTP/1.1\r\nHost: {HOST}\r\n\r\n").ok(transport).named("invalid method token"),
	}

	framing := []badCase{
		rawReq("GARBAGE\r\n\r\n").ok(transport).named("garbage request line"),
		rawReq("GET /health\r\n\r\n").ok(transport).named("no HTTP version"),
		rawReq("GET /health HTTP/9.9\r\nHost: {HOST}\r\n\r\n").ok(transport).named("HTTP/9.9"),
		rawReq("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").ok(transport).named("HTTP/2 preface"),
		rawReq("GET /health HTTP/1.1\r\n\r\n").ok(transport).named("HTTP/1.1 without Host"),
		rawReq("GET /health HTTP/1.1\r\nHost: {HOST}\r\nHost: other\r\n\r\n").ok(transport).named("two Host headers"),
		rawReq("GET /health HTTP/1.1\r\nHost: a b\r\n\r\n").ok(transport).named("Host with a space"),
		rawReq("GET /health HTTP/1.1\r\nHost: {HOST}\r\nNoColonHere\r\n\r\n").ok(transport).named("header line without colon"),
		rawReq("GET /health HTTP/1.1\r\nHost: {HOST}\r\nBad Name: x\r\n\r\n").ok(transport).named("header name with a space"),
		rawReq("GET /health HTTP/1.1\r\nHost: {HOST}\r\nX-A: a\x00b\r\n\r\n").ok(transport).named("NUL in a header value"),
		rawReq("GET /health HTTP/1.1\r\nHost: {HOST}\r\nX-Big: " + strings.Repeat("h", 2<<20) + "\r\n\r\n").ok(transport).named("2 MiB header"),
		req("GET", "/health").with("X-Big: " + strings.Repeat("h", 20_000)).ok(either).named("20 kB header"),
		req("POST", "/embed").json(`{"text":"x"}`).with("Content-Length: 12", "Content-Length: 99").ok(transport).named("two different Content-Lengths"),
		req("POST", "/embed").json(`{"text":"x"}`).with("Content-Length: -5").ok(transport).named("negative Content-Length"),
		req("POST", "/embed").json(`{"text":"x"}`).with("Content-Length: abc").ok(transport).named("Content-Length abc"),
		req("POST", "/embed").typed("application/json", chunk([]byte(`{"text":"x"}`))).with("Content-Length: 3", "Transfer-Encoding: chunked").ok(transport | success).named("Content-Length and chunked"),
		req("POST", "/embed").json(`{"text":"x"}`).with("Transfer-Encoding: gzip").ok(transport).named("Transfer-Encoding gzip"),
		req("POST", "/embed").typed("application/json", []byte("zz\r\n{\"text\":\"x\"}\r\n0\r\n\r\n")).with("Transfer-Encoding: chunked").ok(transport).named("bad chunk size"),
		req("POST", "/embed").json(`{"text":"hello"}`).with("Expect: 100-continue").ok(success).named("Expect: 100-continue (control)"),
		req("POST", "/embed").json(`{"text":"x"}`).with("Expect: teapot").ok(transport).named("Expect: teapot"),
		rawReq("OPTIONS * HTTP/1.1\r\nHost: {HOST}\r\n\r\n").ok(transport | success).named("OPTIONS *"),
		rawReq("GET http://evil.example/documents HTTP/1.1\r\nHost: {HOST}\r\n\r\n").ok(either).named("absolute-form target naming another host"),
		req("POST", "/embed").json(`{"text":"short"}` + strings.Repeat(" ", 50)).with("Content-Length: 8").named("Content-Length shorter than the body"),
	}

	origin := []badCase{
		req("GET", "/health").hostIs("localhost:{PORT}").ok(success).named("Host localhost (control)"),
		req("GET", "/health").hostIs("127.0.0.1").ok(success).named("Host without port (control)"),
		req("GET", "/health").hostIs("evil.example").ok(either).named("Host evil.example on /health"),
		req("GET", "/health").hostIs(strings.Repeat("h", 10_000)).ok(either | plainText).named("10 kB Host"),
		req("POST", "/documents").json(`{"id":"rel-rebind","text":"written through a rebinding host"}`).hostIs("rebind.evil.example:{PORT}").named("rebinding Host writes a document"),
		req("DELETE", "/documents/seed-2").hostIs("rebind.evil.example:{PORT}").named("rebinding Host deletes seed-2"),
		req("GET", "/documents/seed-6").hostIs("rebind.evil.example:{PORT}").named("rebinding Host reads seed-6"),
		req("GET", "/backup").hostIs("rebind.evil.example:{PORT}").named("rebinding Host downloads the backup"),
		req("POST", "/documents").typed("text/plain", []byte(`{"id":"seed-1","text":"overwritten by a form on evil.example"}`)).
			with("Origin: "+evil, "Sec-Fetch-Site: cross-site").named("cross-site text/plain POST overwrites seed-1"),
		req("POST", "/documents").json(`{"id":"seed-3","text":"overwritten from evil.example"}`).with("Origin: " + evil).named("cross-origin JSON POST overwrites seed-3"),
		req("POST", "/documents").json(`{"id":"seed-4","text":"overwritten, Sec-Fetch-Site only"}`).with("Sec-Fetch-Site: cross-site").named("Sec-Fetch-Site cross-site overwrites seed-4"),
		req("POST", "/documents").typed("text/plain", []byte(`{"id":"seed-5","text":"overwritten from a sandboxed frame"}`)).with("Origin: null").named("Origin null overwrites seed-5"),
		req("DELETE", "/documents/seed-1").with("Origin: " + evil).named("cross-origin DELETE of seed-1"),
		mp("cross-origin multipart form upload", "", part{file: "rel-xorigin.txt", data: "uploaded by a form on evil.example"}).with("Origin: " + evil),
		req("POST", "/documents").typed("application/x-www-form-urlencoded", []byte("text=from+evil")).with("Origin: " + evil).named("cross-origin urlencoded form"),
		req("POST", "/embed").typed("text/plain", []byte(`{"text":"x"}`)).with("Origin: " + evil).ok(either).named("cross-origin text/plain /embed (no state)"),
		req("POST", "/documents").json(`{"id":"rel-same-origin","text":"same origin write"}`).with("Origin: http://{HOST}").ok(success).named("same-origin POST (control)"),
	}

	slow := []badCase{
		req("POST", "/documents").json(`{"id":"rel-cut","text":"`+words(200)+`"}`).cutAt(20, thenCloseWrite).ok(cleanJSON | closed).named("body cut short, then half-close"),
		req("POST", "/embed").json(`{"text":"`+words(200)+`"}`).inChunks().cutAt(40, thenCloseWrite).ok(cleanJSON | closed).named("chunked body cut short"),
		mp("multipart cut short", "", part{file: "rel-cut.txt", data: words(5000)}).cutAt(300, thenCloseWrite).ok(cleanJSON | closed),
		req("POST", "/documents").json(`{"text":"`+words(200)+`"}`).cutAt(10, thenStall).ok(held | cleanJSON).named("stalled body, /documents"),
		req("POST", "/embed").json(`{"text":"`+words(200)+`"}`).cutAt(10, thenStall).ok(held | cleanJSON).named("stalled body, /embed"),
		req("POST", "/v1/embeddings").json(`{"input":"`+words(200)+`"}`).cutAt(10, thenStall).ok(held | cleanJSON).named("stalled body, /v1/embeddings"),
		req("POST", "/search").json(`{"q":"`+words(200)+`"}`).cutAt(5, thenStall).ok(held | cleanJSON).named("stalled body, /search"),
		mp("stalled multipart", "", part{file: "rel-slow.txt", data: words(5000)}).cutAt(300, thenStall).ok(held | cleanJSON),
		rawReq("GET /health HTTP/1.1\r\nHost: {HOST}\r\nX-Slow: ").stall().ok(held | plainText | closed).named("stalled header"),
	}

	groups := []struct {
		name  string
		cases []badCase
	}{
		{"POST /documents (JSON)", docs}, {"POST /documents (multipart)", multi}, {"POST /index", index},
		{"GET /search", searchGet}, {"POST /search", searchPost}, {"POST /embed", embed},
		{"/v1 (OpenAI)", v1}, {"/documents/:id, list", ids}, {"/documents/:id/similar", similar},
		{"/backup /metrics /health / /ui", others}, {"methods", methods}, {"HTTP framing", framing},
		{"Host and Origin", origin}, {"cut and stalled bodies", slow},
	}
	var all []badCase
	for _, g := range groups {
		for _, c := range g.cases {
			c.group = g.name
			if c.accept == 0 {
				c.accept = cleanJSON
			}
			all = append(all, c)
		}
	}
	return all
}

func (c badCase) stall() badCase { c.then = thenStall; return c }

// cutFinal drops the closing boundary of a multipart body.
func (c badCase) cutFinal() badCase {
	i := bytes.LastIndex(c.body, []byte("\r\n--"))
	if i > 0 {
		c.body = c.body[:i]
	}
	return c
}

// part is one part of a multipart body: a file when file is set (even to
// ""), else a form field.
type part struct {
	file, field, data string
}

func multipartBody(parts ...part) ([]byte, string) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, p := range parts {
		h := make(textproto.MIMEHeader)
		if p.field != "" {
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q`, p.field))
		} else {
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="files"; filename=%q`, p.file))
			h.Set("Content-Type", "application/octet-stream")
		}
		pw, _ := w.CreatePart(h)
		io.WriteString(pw, p.data)
	}
	w.Close()
	return b.Bytes(), w.Boundary()
}

// distinctDocs is a JSON array of n short documents with different texts
// (the same text would be the same document).
func distinctDocs(n int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"text":"short note number %d"}`, i)
	}
	b.WriteByte(']')
	return b.String()
}

func gz(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	io.WriteString(w, s)
	w.Close()
	return b.Bytes()
}

// seedDocs are stored before the bad inputs and must come out unchanged.
var seedDocs = []struct{ id, text string }{
	{"seed-1", "The lighthouse keeper logged the fog horn at dawn."},
	{"seed-2", "Sourdough needs a warm kitchen and a patient baker."},
	{"seed-3", "The tram line was extended past the river in spring."},
	{"seed-4", "A heron stood in the shallow water without moving."},
	{"seed-5", "Bees return to the hive by the angle of the sun."},
	{"seed-6", "The backup generator starts after ten seconds of outage."},
}

// caseResult is one bad case and what the server did.
type caseResult struct {
	c badCase
	a answer
}

type badReport struct {
	results  []caseResult
	damaged  []string // seeded documents changed or gone, with what was found
	restarts []string // why the server had to be restarted during the run
	skipped  int      // cases not sent: the time bound ran out
	took     time.Duration
}

// runBadInputs starts a server, stores the seed documents, sends every bad
// case once, and checks the seed documents afterwards.
func runBadInputs(ctx context.Context, cfg config) (*badReport, error) {
	start := time.Now()
	data, logs := cfg.dir("bad-inputs")
	srv, err := startServer(ctx, cfg, data, logs)
	if err != nil {
		return nil, err
	}
	defer func() { srv.stop() }()
	client := &http.Client{Timeout: 30 * time.Second}
	for _, d := range seedDocs {
		if err := postDoc(client, srv.base, d.id, d.text); err != nil {
			return nil, fmt.Errorf("seed document %s: %w", d.id, err)
		}
	}

	rep := &badReport{}
	cases := badCases()
	for i, c := range cases {
		if ctx.Err() != nil {
			rep.skipped = len(cases) - i
			break
		}
		a := send(c, srv.hostPort)
		rep.results = append(rep.results, caseResult{c, a})
		why := ""
		switch {
		case !srv.alive():
			why = fmt.Sprintf("the server exited after %q (%s): %s", c.name, srv.cmd.ProcessState, lastLine(srv.logTail(4000)))
		case a.class == hang:
			// Work the server may still do for the abandoned request would
			// slow the cases after it; a graceful restart ends it.
			why = fmt.Sprintf("after the hang of %q (answers /health: %v), to end the work left running", c.name, srv.answers(2*time.Second))
		}
		if why != "" {
			logf("bad inputs: restarting the server %s", why)
			rep.restarts = append(rep.restarts, why)
			srv.stop()
			if srv, err = startServer(ctx, cfg, data, logs); err != nil {
				return nil, fmt.Errorf("restart after %q: %w", c.name, err)
			}
		}
	}
	for _, d := range seedDocs {
		got, status, err := getDoc(client, srv.base, d.id)
		switch {
		case err != nil:
			rep.damaged = append(rep.damaged, fmt.Sprintf("%s: %v", d.id, err))
		case status != http.StatusOK:
			rep.damaged = append(rep.damaged, fmt.Sprintf("%s: GET answers %d", d.id, status))
		case got != d.text:
			rep.damaged = append(rep.damaged, fmt.Sprintf("%s: text is now %q", d.id, clip(got, 60)))
		}
	}
	rep.took = time.Since(start)
	return rep, nil
}

// postDoc stores one document and wants 201.
func postDoc(client *http.Client, base, id, text string) error {
	body, _ := json.Marshal(map[string]string{"id": id, "text": text})
	resp, err := client.Post(base+"/documents", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 500))
		return fmt.Errorf("POST /documents: %d %s", resp.StatusCode, b)
	}
	return nil
}

// getDoc returns the text of document id and the status of GET /documents/:id.
func getDoc(client *http.Client, base, id string) (string, int, error) {
	resp, err := client.Get(base + "/documents/" + pathEscape(id))
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return "", resp.StatusCode, nil
	}
	var d struct {
		ID   string `json:"id"`
		Text string `json:"text"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		return "", resp.StatusCode, fmt.Errorf("GET /documents/%s: %w", id, err)
	}
	if d.ID != id {
		return "", resp.StatusCode, fmt.Errorf("GET /documents/%s answers document %q", id, d.ID)
	}
	return d.Text, resp.StatusCode, nil
}

// report prints the bad-input section.
func (r *badReport) report(w io.Writer) {
	groups := []string{}
	per := map[string]map[class]int{}
	fails := []caseResult{}
	total := map[class]int{}
	for _, cr := range r.results {
		g := cr.c.group
		if per[g] == nil {
			per[g] = map[class]int{}
			groups = append(groups, g)
		}
		per[g][cr.a.class]++
		total[cr.a.class]++
		if cr.a.class&cr.c.accept == 0 {
			fails = append(fails, cr)
			per[g][0]++ // class 0 counts the failures
			total[0]++
		}
	}
	fmt.Fprintf(w, "### 1. Bad inputs\n\n")
	fmt.Fprintf(w, "%d malformed or hostile requests, each on a fresh connection to a server holding %d seed documents; "+
		"a request unanswered after %s is a hang (stalled bodies get %s, and holding them open is the expected answer). "+
		"A case *fails* when its outcome is not one it accepts: by default a 4xx whose body is `{\"error\":\"…\"}` "+
		"(OpenAI's `{\"error\":{\"message\",\"type\",\"param\",\"code\"}}` under /v1); malformed HTTP may also get Go's own plain-text answer; "+
		"a few cases accept success too, and controls want it. Took %.0f s.\n\n",
		len(r.results), len(seedDocs), hangBound, stallBound, r.took.Seconds())
	fmt.Fprintln(w, "| group | tried | clean 4xx (JSON) | plain-text 4xx/5xx | 2xx/3xx | 5xx | JSON error of the wrong shape | closed | hangs | held | failing |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	row := func(name string, m map[class]int, tried int) {
		fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d |\n", name, tried,
			m[cleanJSON], m[plainText], m[success], m[serverErr], m[badBody], m[closed], m[hang], m[held], m[0])
	}
	for _, g := range groups {
		n := 0
		for cl, k := range per[g] {
			if cl != 0 {
				n += k
			}
		}
		row(g, per[g], n)
	}
	row("**all**", total, len(r.results))
	if r.skipped > 0 {
		fmt.Fprintf(w, "\n%d cases were not sent: the time bound ran out.\n", r.skipped)
	}
	fmt.Fprintf(w, "\nSeed documents damaged (changed or gone after the run): **%d** of %d.\n", len(r.damaged), len(seedDocs))
	for _, d := range r.damaged {
		fmt.Fprintf(w, "- %s\n", cell(d))
	}
	if len(r.restarts) > 0 {
		fmt.Fprintf(w, "\nServer restarts during the run: %d.\n", len(r.restarts))
		for _, why := range r.restarts {
			fmt.Fprintf(w, "- %s\n", cell(why))
		}
	}
	if len(fails) == 0 {
		fmt.Fprintf(w, "\nNo case failed.\n\n")
		return
	}
	fmt.Fprintf(w, "\nFailing cases (%d):\n\n| group | case | request | answer | wants |\n|---|---|---|---|---|\n", len(fails))
	for _, cr := range fails {
		fmt.Fprintf(w, "| %s | %s | %s | %s (%.1f s) | %s |\n", cr.c.group, cell(cr.c.name), cell(requestLine(cr.c)),
			cr.a.summary(), cr.a.took.Seconds(), cr.c.accept)
	}
	fmt.Fprintln(w)
}

// requestLine is a short form of the request for the report.
func requestLine(c badCase) string {
	if c.raw != "" {
		line, _, _ := strings.Cut(c.raw, "\r\n")
		return clip(line, 50)
	}
	s := c.method + " " + c.target
	if c.host != "" && c.host != "-" {
		s += " (Host " + c.host + ")"
	}
	return clip(strings.NewReplacer("{HOST}", "HOST", "{PORT}", "PORT").Replace(s), 70)
}
