package timeline

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

const hostile = `</script><img src=x onerror=alert(1)>`

// hostileStream is sampleStream with task names and labels that would
// break out of the page's data or run script if they were not escaped.
func hostileStream() []Event {
	events := sampleStream()
	for i := range events {
		switch events[i].Task {
		case 2:
			events[i].Name = hostile
		case 3:
			events[i].Name = `<svg onload="document.documentElement.dataset.pwned=1">`
		}
		if events[i].Kind == Block && events[i].Task == 2 {
			events[i].Label = `<!-- <script>document.documentElement.dataset.pwned=2</script>`
		}
	}
	return events
}

func writePage(t *testing.T, events []Event, title string) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteHTML(&b, events, title); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

var dataBlock = regexp.MustCompile(`(?s)<script type="application/json" id="timeline-data">(.*?)</script>`)

// splitPage returns the page without its data and the data.
func splitPage(t *testing.T, page string) (rest, data string) {
	t.Helper()
	m := dataBlock.FindAllStringSubmatchIndex(page, -1)
	if len(m) != 1 {
		t.Fatalf("%d data blocks, want 1", len(m))
	}
	return page[:m[0][0]] + page[m[0][1]:], page[m[0][2]:m[0][3]]
}

// TestWriteHTMLSelfContained: nothing on the page loads anything. The
// data block is left out of the scan (it is JSON that no parser reads as
// markup, checked below); everything else, the markup, style and script,
// must hold no reference to a resource at all.
func TestWriteHTMLSelfContained(t *testing.T) {
	page := writePage(t, hostileStream(), "self-contained")
	rest, data := splitPage(t, page)
	lower := strings.ToLower(rest)
	for _, bad := range []string{
		"src=", "srcset", "href=", "url(", "@import", "http:", "https:", "ftp:", "file:", "data:",
		"<link", "<img", "<iframe", "<object", "<embed", "<base", "<meta http-equiv", "<form",
		"fetch(", "xmlhttprequest", "websocket", "eventsource", "sendbeacon", "import(", "importscripts",
		"new worker", "window.open", "location.", "document.cookie", "localstorage",
	} {
		if i := strings.Index(lower, bad); i >= 0 {
			t.Errorf("the page holds %q: ...%s...", bad, rest[max(i-60, 0):min(i+60, len(rest))])
		}
	}
	if n := strings.Count(lower, "<script"); n != 1 {
		t.Errorf("%d script elements besides the data, want 1: the code", n)
	}
	if !strings.Contains(rest, "<script>// Draws the timeline") {
		t.Errorf("the code is not inline")
	}
	if !strings.Contains(rest, "<style>/* The timeline page's style.") {
		t.Errorf("the style is not inline")
	}
	// The data is inert: no markup can start or end in it, and it is JSON.
	if strings.ContainsAny(data, "<>") {
		t.Errorf("the data block holds < or >: %s", data)
	}
	var d pageData
	if err := json.Unmarshal([]byte(data), &d); err != nil {
		t.Fatalf("the data block is not JSON: %v", err)
	}
	tl := reconstruct(hostileStream())
	if len(d.Lanes) != len(tl.lanes) || d.Lanes[1].Label != hostile+" #2" {
		t.Errorf("lanes in the data: %+v", d.Lanes)
	}
	segs := 0
	for _, l := range d.Lanes {
		if len(l.Segs)%segStride != 0 || len(l.Marks)%3 != 0 {
			t.Errorf("lane %d: %d numbers of segments, %d of marks", l.ID, len(l.Segs), len(l.Marks))
		}
		segs += len(l.Segs) / segStride
	}
	if segs != tl.segments() {
		t.Errorf("%d segments in the data, want %d", segs, tl.segments())
	}
}

// TestWriteHTMLEscapes: hostile names and labels are nowhere on the page as
// markup, and the title is escaped too.
func TestWriteHTMLEscapes(t *testing.T) {
	title := `<b>bold</b> & "quoted" ` + hostile
	page := writePage(t, hostileStream(), title)
	for _, raw := range []string{hostile, "<img", "<svg onload", "<!-- <script>", "<b>bold"} {
		if strings.Contains(page, raw) {
			t.Errorf("the page holds %q unescaped", raw)
		}
	}
	if want := "<title>&lt;b&gt;bold&lt;/b&gt; &amp; &#34;quoted&#34; &lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;</title>"; !strings.Contains(page, want) {
		t.Errorf("the title is not escaped as %s", want)
	}
	if want := `\u003c/script\u003e\u003cimg src=x onerror=alert(1)\u003e #2`; !strings.Contains(page, want) {
		t.Errorf("the hostile name is not in the data as %s", want)
	}
}

// TestPageScriptUsesNoMarkup: the script never parses text as HTML, so the
// untrusted names it puts on the page can only be text.
func TestPageScriptUsesNoMarkup(t *testing.T) {
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
		"Function(", "setTimeout('", "DOMParser", "createContextualFragment", "srcdoc"} {
		if strings.Contains(pageJS, bad) {
			t.Errorf("page.js uses %s", bad)
		}
	}
}

func TestWriteHTMLSummary(t *testing.T) {
	page := writePage(t, sampleStream(), "")
	for _, want := range []string{
		"<title>lwtask timeline</title>",
		`<p id="summary">4 tasks, 30 events, 44µs from 1µs to 45µs.</p>`,
		`<span class="sw s-chan"></span>blocked on channel</li>`,
		`<path class="m-panic" d="M-4 0h8l-4 7z"/></svg>panic</li>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if page != writePage(t, sampleStream(), "") {
		t.Errorf("two pages of the same events differ")
	}
}
