// Package request is the request file format, version 1: requests/<id>.yaml,
// written by a requester in a pull request and never changed after merge. It
// parses a file under strict rules and checks everything a schema cannot
// express. Whether a policy allows the request is the policy package's job.
package request

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/elevate-dev/elevate/internal/finding"
	"github.com/elevate-dev/elevate/internal/strictyaml"
	"github.com/elevate-dev/elevate/schema"
)

// Dir is the folder, relative to the repository root, that holds open requests.
const Dir = "requests"

// MaxIDLength is the longest request id.
const MaxIDLength = 64

// Request is one parsed request file.
type Request struct {
	// ID is the file name without .yaml; unique forever.
	ID string
	// File is the path the request was read from, relative to the repository root.
	File string
	// Requester is the GitHub login of the person asking; the PR author.
	Requester string
	// Account is what the file says: a 12-digit account id or a policy alias.
	Account string
	// PermissionSet is the IAM Identity Center permission set name.
	PermissionSet string
	// Duration is how long access lasts from Start; DurationText is as written.
	Duration     time.Duration
	DurationText string
	// Reason says why, on one line.
	Reason string
	// Ticket is the optional ticket reference.
	Ticket string
	// Start is the requested start, or nil for "at merge".
	Start *time.Time

	doc *strictyaml.Document
}

// Pos returns the position of a top-level field's value, for findings.
func (r *Request) Pos(field string) finding.Pos {
	if r.doc == nil {
		return finding.Pos{Line: 1, Col: 1}
	}
	return r.doc.Pos(field)
}

var (
	validator = schema.MustCompile(schema.Request)
	idRE      = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	digitsRE  = regexp.MustCompile(`^[0-9]+$`)
)

// IDFromPath checks that p is requests/<id>.yaml with a valid id and returns
// the id. p uses forward slashes, relative to the repository root.
func IDFromPath(p string) (string, []finding.Finding) {
	bad := func(msg string) (string, []finding.Finding) {
		return "", []finding.Finding{finding.New(p, finding.Pos{Line: 1, Col: 1}, "request-id", msg,
			"name the file requests/<id>.yaml where <id> is 1 to 64 lower-case ASCII letters, digits and single dashes, such as requests/alice-prod-rollback.yaml")}
	}
	dir, name := path.Split(p)
	if dir != Dir+"/" || path.Clean(p) != p {
		return bad(fmt.Sprintf("request file %q is not directly in %s/", p, Dir))
	}
	if !strings.HasSuffix(name, ".yaml") {
		return bad(fmt.Sprintf("request file %q does not end in .yaml", name))
	}
	id := strings.TrimSuffix(name, ".yaml")
	switch {
	case !utf8.ValidString(id):
		return bad("request id is not valid UTF-8")
	case len(id) > MaxIDLength:
		return bad(fmt.Sprintf("request id is %d characters, more than %d", len(id), MaxIDLength))
	case !idRE.MatchString(id):
		return bad(fmt.Sprintf("request id %q may hold only lower-case ASCII letters, digits and single dashes", id))
	}
	return id, nil
}

// Parse reads one request file. It returns every problem found; the request
// is nil when there are findings.
func Parse(file string, data []byte) (*Request, []finding.Finding) {
	id, fs := IDFromPath(file)
	doc, dfs := strictyaml.Decode(file, data)
	fs = append(fs, dfs...)
	if doc == nil {
		return nil, fs
	}
	add := func(field, rule, msg, fix string) {
		fs = append(fs, finding.New(file, doc.Pos(field), rule, msg, fix))
	}
	skip := map[string]bool{}
	if n := doc.Node("account"); n != nil && n.Kind == yaml.ScalarNode && !strictyaml.IsQuotedString(n) && digitsRE.MatchString(n.Value) {
		skip["account"] = true
		add("account", "account-quoted",
			fmt.Sprintf("account %s is not quoted, so YAML read it as a number (an id with a leading zero would silently change)", n.Value),
			fmt.Sprintf("quote it: account: \"%s\"", n.Value))
	}
	r := &Request{ID: id, File: file, doc: doc}
	m, _ := doc.Value.(map[string]any)
	for k, v := range m {
		if s, ok := v.(string); ok && hasControl(s) {
			skip[k] = true
			add(k, "control-character", fmt.Sprintf("%s contains a line break or control character", k), "write it on one line of plain text")
		}
	}
	str := func(k string) string { s, _ := m[k].(string); return s }
	r.Requester, r.Account, r.PermissionSet = str("requester"), str("account"), str("permissionSet")
	r.Reason, r.Ticket, r.DurationText = str("reason"), str("ticket"), str("duration")
	if _, ok := m["duration"].(string); ok && r.DurationText != "" {
		d, err := ParseDuration(r.DurationText)
		if err != nil {
			skip["duration"] = true
			add("duration", "duration", fmt.Sprintf("duration %q: %v", r.DurationText, err), "write a duration such as 30m, 2h, 1h30m or 1d (units d, h, m, largest first)")
		}
		r.Duration = d
	}
	if s, ok := m["start"].(string); ok {
		t, err := ParseTime(s)
		if err != nil {
			skip["start"] = true
			add("start", "start-time", fmt.Sprintf("start %q: %v", s, err), "write an RFC 3339 time with a zone, quoted, such as \"2026-12-04T09:00:00Z\"")
		} else {
			r.Start = &t
		}
	}
	fs = append(fs, validator.Check(doc, skip)...)
	finding.Sort(fs)
	if len(fs) > 0 {
		return nil, fs
	}
	return r, nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return true
		}
	}
	return false
}

var durationRE = regexp.MustCompile(`^(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?$`)

// MaxStartAhead bounds how far after its merge a request may start: an
// approval is for work soon, not a grant that fires months later.
const MaxStartAhead = 30 * 24 * time.Hour

// MaxDuration bounds any duration elevate accepts, whatever a policy says.
const MaxDuration = 90 * 24 * time.Hour

// ParseDuration reads the one duration syntax elevate accepts: whole numbers
// with units d, h and m, largest first (30m, 2h, 1h30m, 1d). It must be
// positive and at most 90 days.
func ParseDuration(s string) (time.Duration, error) {
	m := durationRE.FindStringSubmatch(s)
	if m == nil || s == "" {
		return 0, fmt.Errorf("not in the form <n>d<n>h<n>m")
	}
	var total time.Duration
	for i, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Minute} {
		if m[i+1] == "" {
			continue
		}
		n, err := strconv.Atoi(m[i+1])
		if err != nil || n > 10000 {
			return 0, fmt.Errorf("number %s is too large", m[i+1])
		}
		total += time.Duration(n) * unit
	}
	if total <= 0 {
		return 0, fmt.Errorf("must be more than zero")
	}
	if total > MaxDuration {
		return 0, fmt.Errorf("more than the 90 days elevate ever allows")
	}
	return total, nil
}

// FormatDuration writes d in the syntax ParseDuration reads, rounded down to
// the minute.
func FormatDuration(d time.Duration) string {
	d = d.Truncate(time.Minute)
	if d <= 0 {
		return "0m"
	}
	var b strings.Builder
	if days := d / (24 * time.Hour); days > 0 {
		fmt.Fprintf(&b, "%dd", days)
		d -= days * 24 * time.Hour
	}
	if h := d / time.Hour; h > 0 {
		fmt.Fprintf(&b, "%dh", h)
		d -= h * time.Hour
	}
	if m := d / time.Minute; m > 0 {
		fmt.Fprintf(&b, "%dm", m)
	}
	return b.String()
}

// ParseTime reads an RFC 3339 time with a zone and returns it in UTC.
// A time without a zone is refused, never guessed.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		if _, e := time.Parse("2006-01-02T15:04:05", strings.SplitN(s, ".", 2)[0]); e == nil {
			return time.Time{}, fmt.Errorf("has no time zone; elevate never guesses one")
		}
		return time.Time{}, fmt.Errorf("not an RFC 3339 time")
	}
	return t.UTC(), nil
}

// FormatTime writes t as elevate writes every time: RFC 3339 in UTC, seconds.
func FormatTime(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format(time.RFC3339)
}
