package search

import (
	"strings"
	"testing"
)

func TestSnippet(t *testing.T) {
	long := strings.Repeat("filler words here. ", 40)
	cases := []struct {
		name, text, query, want string
	}{
		{"marks stems", "I was running; she runs.", "run", "I was <mark>running</mark>; she <mark>runs</mark>."},
		{"escapes html", `<b>fox</b> & "dog"`, "fox", `&lt;b&gt;<mark>fox</mark>&lt;/b&gt; &amp; &#34;dog&#34;`},
		{"no match gives start", "alpha beta", "zebra", "alpha beta"},
		{"collapses space", "a\n\n  fox\tb", "fox", "a <mark>fox</mark> b"},
	}
	for _, c := range cases {
		if got := Snippet(c.text, Terms(c.query)); got != c.want {
			t.Errorf("%s: Snippet = %q, want %q", c.name, got, c.want)
		}
	}

	text := long + "the raspberry pi needs a raspberry power supply " + long
	got := Snippet(text, Terms("raspberry power"))
	if !strings.HasPrefix(got, "…") || !strings.HasSuffix(got, "…") {
		t.Errorf("window in the middle should be cut both sides: %q", got)
	}
	if strings.Count(got, "<mark>") != 3 || len(got) > SnippetBytes+60 {
		t.Errorf("want 3 marks within about %d bytes, got %d bytes: %q", SnippetBytes, len(got), got)
	}
	if strings.Contains(got, "…ler") || strings.Contains(got, "fil…") {
		t.Errorf("cut inside a word: %q", got)
	}
}
