package timeline

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"time"
)

// The page is one file: the template below with the style and script
// inlined and the timeline embedded as JSON, so that it opens from a
// file:// URL with no network at all. html/template escapes the title
// and the JSON (task names and labels are untrusted: a "</script>" in
// one comes out as "\u003c/script\u003e"), and the script puts names on
// the page with textContent only.

//go:embed assets/page.html
var pageHTML string

//go:embed assets/page.css
var pageCSS string

//go:embed assets/page.js
var pageJS string

var pageTemplate = template.Must(template.New("page").Parse(pageHTML))

// WriteHTML writes events as one self-contained HTML page titled title:
// one lane per task, labelled "name #ID" and ordered by ID, under a lane
// for the event loop's polls and posts and one for each resource tasks
// took, showing who held it when; segments coloured by state, with
// a legend; the budget, timer, panic, kill and finish marks. Hovering a
// segment tells what it was (what a task waited for, how long, who woke
// it), clicking pins that; the mouse wheel or the buttons zoom, dragging
// pans. The page loads nothing: it has its style, its script and its data
// inline.
func WriteHTML(w io.Writer, events []Event, title string) error {
	if title == "" {
		title = "lwtask timeline"
	}
	tl := reconstruct(events)
	v := pageView{
		Title:   title,
		Summary: summary(tl),
		Marks:   append(markNames[:], "post"),
		CSS:     template.CSS(pageCSS), // our own files, trusted
		JS:      template.JS(pageJS),
		Data:    newPageData(tl),
	}
	v.States = v.Data.States
	return pageTemplate.Execute(w, v)
}

// pageView is what the page template shows.
type pageView struct {
	Title   string
	Summary string
	States  []stateName
	Marks   []string
	CSS     template.CSS
	JS      template.JS
	Data    pageData
}

type stateName struct {
	Key   string `json:"key"`
	Title string `json:"title"`
}

// pageData is the timeline as page.js reads it. Segments, marks, polls and
// posts are flat arrays of numbers, several numbers each, which keeps tens
// of thousands of them small and quick to parse; labels are indexes into
// Strings, where each distinct label is once.
type pageData struct {
	Start   int64       `json:"start"` // ns, the span shown at first
	End     int64       `json:"end"`
	States  []stateName `json:"states"` // by a segment's state number
	Marks   []string    `json:"marks"`  // by a mark's kind number
	Strings []string    `json:"strings"`
	Lanes   []pageLane  `json:"lanes"`
	// Resources: for each, holdStride numbers a hold: start, end, holder.
	Resources []pageResource `json:"resources"`
	Polls     []int64        `json:"polls"` // start, end, descriptors ready
	Posts     []int64        `json:"posts"` // time, functions run
}

// pageLane is a task's lane. Segs holds segStride numbers a segment:
// start, end, state, label, peer (the waker's ID, 0 for none or the
// loop), wake (the loop's reason, a label), deadline (0 for none),
// timed out (0 or 1). Marks holds three a mark: time, kind, label.
type pageLane struct {
	ID    uint64  `json:"id"`
	Label string  `json:"label"` // "name #ID"
	Segs  []int64 `json:"segs"`
	Marks []int64 `json:"marks"`
}

const segStride = 8 // SEG in page.js

// pageResource is a resource's row: who held it when.
type pageResource struct {
	Name  string  `json:"name"`
	Holds []int64 `json:"holds"`
}

const holdStride = 3 // HOLD in page.js

func newPageData(tl *timeline) pageData {
	d := pageData{
		Start: int64(tl.start), End: int64(tl.end),
		Marks: markNames[:],
		Lanes: make([]pageLane, 0, len(tl.lanes)),
		Polls: make([]int64, 0, 3*len(tl.polls)),
		Posts: make([]int64, 0, 2*len(tl.posts)),
	}
	for s := range numStates {
		d.States = append(d.States, stateName{Key: s.key(), Title: s.title()})
	}
	index := map[string]int64{}
	str := func(s string) int64 {
		i, ok := index[s]
		if !ok {
			i = int64(len(d.Strings))
			index[s] = i
			d.Strings = append(d.Strings, s)
		}
		return i
	}
	str("") // 0: no label
	for _, l := range tl.lanes {
		pl := pageLane{ID: l.id, Label: l.label(),
			Segs: make([]int64, 0, segStride*len(l.segs)), Marks: make([]int64, 0, 3*len(l.marks))}
		for _, s := range l.segs {
			timedOut := int64(0)
			if s.timedOut {
				timedOut = 1
			}
			pl.Segs = append(pl.Segs, int64(s.start), int64(s.end), int64(s.state), str(s.label),
				int64(s.peer), str(s.wake), int64(s.deadline), timedOut)
		}
		for _, m := range l.marks {
			pl.Marks = append(pl.Marks, int64(m.at), int64(m.kind), str(m.label))
		}
		d.Lanes = append(d.Lanes, pl)
	}
	d.Resources = make([]pageResource, 0, len(tl.resources))
	for _, r := range tl.resources {
		pr := pageResource{Name: r.name, Holds: make([]int64, 0, holdStride*len(r.holds))}
		for _, h := range r.holds {
			pr.Holds = append(pr.Holds, int64(h.start), int64(h.end), int64(h.task))
		}
		d.Resources = append(d.Resources, pr)
	}
	for _, p := range tl.polls {
		d.Polls = append(d.Polls, int64(p.start), int64(p.end), p.n)
	}
	for _, p := range tl.posts {
		d.Posts = append(d.Posts, int64(p.at), p.n)
	}
	return d
}

// summary says in a line what the page shows.
func summary(tl *timeline) string {
	return fmt.Sprintf("%s, %s, %v from %v to %v.",
		plural(len(tl.lanes), "task"), plural(tl.events, "event"),
		tl.end-tl.start, time.Duration(tl.start), time.Duration(tl.end))
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprint(n, " ", what, "s")
}
