package ui

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"slices"
	"time"

	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/registry"
)

// Options configures the UI. Served, Registry and Offline are required.
type Options struct {
	// Project names the feature repository in every page's header.
	Project string
	// OnlineStore is the online store's type (local, redis), shown on the
	// overview.
	OnlineStore string
	// Served returns the registry version being served and its
	// definitions, read together (server.Server.Served). Every page calls
	// it, so a version the server reloads shows at once.
	Served func() (int64, *registry.Definitions)
	// Registry is the stored registry, for version times and history.
	Registry *registry.Store
	// Offline is the offline store: the views' history, the datasets'
	// profiles, the drift reports and the served-feature logs.
	Offline *offline.Store
	// Now is the clock that ages are measured with; nil means time.Now.
	Now func() time.Time
}

//go:embed templates static
var files embed.FS

// pages are the page templates by name, each parsed with the one layout.
var pages = parsePages("overview", "views", "view", "services", "service", "entities", "sources",
	"datasets", "dataset", "registry", "problem")

func parsePages(names ...string) map[string]*template.Template {
	out := make(map[string]*template.Template, len(names))
	for _, name := range names {
		out[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/"+name+".html"))
	}
	return out
}

// New returns the UI's handler. It serves GET requests for / (overview),
// /views, /views/{name}, /services, /services/{name}, /entities, /sources,
// /datasets, /datasets/{name}, /registry and /static/, and a "not found"
// page for any other path. It is safe for concurrent use.
func New(opts Options) http.Handler {
	u := &ui{opts: opts, now: opts.Now}
	if u.now == nil {
		u.now = time.Now
	}
	static, _ := fs.Sub(files, "static") // the directory is embedded
	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	for pattern, build := range map[string]builder{
		"GET /{$}":             u.overview,
		"GET /views":           u.views,
		"GET /views/{name}":    u.view,
		"GET /services":        u.services,
		"GET /services/{name}": u.service,
		"GET /entities":        u.entities,
		"GET /sources":         u.sources,
		"GET /datasets":        u.datasets,
		"GET /datasets/{name}": u.dataset,
		"GET /registry":        u.registry,
		"GET /":                u.unknownPath,
	} {
		mux.Handle(pattern, u.page(build))
	}
	return mux
}

// ui serves the pages. It holds no state of its own: every request reads
// the served registry version and the stores afresh.
type ui struct {
	opts Options
	now  func() time.Time
}

// served is the registry version a request is answered from.
type served struct {
	version int64
	defs    *registry.Definitions
}

// page is what a builder returns: the template to render and its data.
type page struct {
	template string
	title    string
	section  string // the nav bar entry to highlight
	data     any
}

// builder builds one page from the request and the served version.
type builder func(r *http.Request, s served) (*page, error)

// notFoundError is a request for something the served version does not
// hold; the message says what and what to try instead.
type notFoundError struct {
	msg     string
	section string // where to look instead
}

func (e *notFoundError) Error() string { return e.msg }

// notFound reports that the served version has no kind called name,
// suggesting the closest of names.
func notFound(s served, kind, name, section string, names []string) error {
	suggestion := registry.DidYouMean(name, names)
	if suggestion == "" {
		suggestion = "."
	}
	return &notFoundError{
		msg:     fmt.Sprintf("Registry version %d has no %s %q%s", s.version, kind, name, suggestion),
		section: section,
	}
}

func (u *ui) unknownPath(r *http.Request, _ served) (*page, error) {
	return nil, &notFoundError{msg: fmt.Sprintf("There is no page at %s.", r.URL.Path)}
}

// layout is the data of the one layout every page is rendered in.
type layout struct {
	Project string
	Version int64
	Title   string
	Section string
	Nav     []navItem
	Now     time.Time
	Page    any
}

type navItem struct{ Path, Label, Section string }

var nav = []navItem{
	{"/views", "Feature views", "views"},
	{"/services", "Feature services", "services"},
	{"/entities", "Entities", "entities"},
	{"/sources", "Sources", "sources"},
	{"/datasets", "Datasets", "datasets"},
	{"/registry", "Registry", "registry"},
}

// problem is the data of the page shown for an error.
type problem struct {
	Message string
	Back    *navItem // a list page to go to instead; nil for none
}

// page renders what build returns in the layout, or the problem page
// with status 404 for a notFoundError and 500 for any other error.
func (u *ui) page(build builder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		version, defs := u.opts.Served()
		p, err := build(r, served{version, defs})
		status := http.StatusOK
		if err != nil {
			status = http.StatusInternalServerError
			title, prob := "Error", problem{Message: err.Error()}
			if nf, ok := errors.AsType[*notFoundError](err); ok {
				status, title = http.StatusNotFound, "Not found"
				if i := slices.IndexFunc(nav, func(n navItem) bool { return n.Section == nf.section }); i >= 0 {
					prob.Back = &nav[i]
				}
			}
			p = &page{template: "problem", title: title, data: prob}
		}
		var buf bytes.Buffer
		err = pages[p.template].ExecuteTemplate(&buf, "layout", layout{
			Project: u.opts.Project, Version: version, Title: p.title, Section: p.section, Nav: nav, Now: u.now(), Page: p.data,
		})
		if err != nil {
			http.Error(w, "render "+p.template+": "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		w.Write(buf.Bytes())
	})
}

// funcs format values in templates.
var funcs = template.FuncMap{
	"time": formatTime,
	"ago":  ago,
	"ttl": func(d time.Duration) string {
		if d == 0 {
			return "none"
		}
		return registry.FormatDuration(d)
	},
	"pct": percent,
	"num": func(f *float64) string {
		if f == nil {
			return "–"
		}
		return fmt.Sprintf("%.4g", *f)
	},
	"share": func(n, total int64) string { return percent(float64(n) / float64(max(total, 1))) },
	"short": func(hash string) string { return hash[:min(len(hash), 12)] },
	"count": func(n int, noun string) string {
		if n == 1 {
			return "1 " + noun
		}
		return fmt.Sprintf("%d %ss", n, noun)
	},
}

// percent prints a share with three significant digits: "25%", "0.35%".
func percent(f float64) string { return fmt.Sprintf("%.3g%%", 100*f) }

// formatTime prints t in UTC to the minute as a <time> element, which
// the stylesheet keeps on one line and whose title is the exact time, or a
// dash for the zero time.
func formatTime(t time.Time) template.HTML {
	if t.IsZero() {
		return "–"
	}
	exact := t.UTC().Format(time.RFC3339Nano)
	return template.HTML(`<time datetime="` + exact + `" title="` + exact + `">` + t.UTC().Format("2006-01-02 15:04 UTC") + `</time>`)
}

// ago prints how long before now t was, in its two largest units:
// "3d 4h ago", "12m ago"; "in 5m" for a t after now, and "just now"
// within a minute either way.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case t.IsZero():
		return "never"
	case d > -time.Minute && d < time.Minute:
		return "just now"
	case d < 0:
		return "in " + roughly(-d)
	}
	return roughly(d) + " ago"
}

// roughly prints d, at least a minute, in its two largest units.
func roughly(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < day:
		return fmt.Sprintf("%dh %dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd %dh", int(d/day), int(d%day/time.Hour))
}
