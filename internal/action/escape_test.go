package action_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-github/v62/github"

	"github.com/elevate-dev/elevate/internal/action"
)

func TestSafeValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value string
		ok    bool
	}{
		{"alice-prod-rollback,bob-x", true},
		{"", true},
		{"ünïcode ok", true},
		{"a\nb", false},
		{"a\rb", false},
		{"tab\there", false},
		{"nul\x00", false},
		{"del\x7f", false},
		{"c1\u0085", false},
		{"line sep\u2028", false},
		{"x_GitHubActionsFileCommandDelimeter_y", false},
		{strings.Repeat("a", 64<<10+1), false},
	}
	for _, tt := range tests {
		if err := action.SafeValue(tt.value); (err == nil) != tt.ok {
			t.Errorf("SafeValue(%.40q) = %v, want ok %v", tt.value, err, tt.ok)
		}
	}
}

func TestText(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"Roll back INC-1234, now":  "Roll back INC-1234, now",
		"a|b":                      "a&#124;b",
		"<!-- elevate:summary -->": "&#60;&#33;-- elevate&#58;summary --&#62;",
		"`x`":                      "&#96;x&#96;",
		"@acme/security":           "&#64;&#8203;acme&#47;security",
		"#12":                      "&#35;&#8203;12",
		"two\nlines":               "two&#92;nlines",
		"bidi\u202egnp.exe":        "bidi&#92;u202egnp&#46;exe",
		"naïve":                    "naïve",
	}
	for in, want := range tests {
		if got := action.Text(in); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
}

// safeText is everything Text may emit: letters, digits, space, comma,
// dash, numeric entities and printable non-ASCII characters.
var safeText = regexp.MustCompile(`^(?:[A-Za-z0-9 ,-]|&#[0-9]+;|[^\x00-\x7f])*$`)

func FuzzText(f *testing.F) {
	for _, s := range []string{"a|b", "<!-- elevate:summary -->", "x\ny", "@a #1 `c` **d** [e](f)", "\u202e\u200b\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := action.Text(s)
		if !safeText.MatchString(out) {
			t.Fatalf("Text(%q) = %q holds a character Markdown could read", s, out)
		}
		if strings.ContainsAny(out, "\n\r|<>`") || strings.Contains(out, action.Marker) || !utf8.ValidString(out) {
			t.Fatalf("Text(%q) = %q", s, out)
		}
		for _, r := range out {
			if r >= 0x80 && (r < 0xa0 || r == '\u2028' || r == '\u2029' || r == '\u200b' || r == '\u202e') {
				t.Fatalf("Text(%q) = %q keeps invisible %U", s, out, r)
			}
		}
	})
}

func FuzzParseEvent(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "events", "*.json"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"pull_request":{"number":1,"user":{"login":"a"},"base":{"sha":"0"},"head":{"sha":"1"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := action.ParseEvent(data)
		if err != nil {
			return
		}
		if pr := ev.PullRequest; pr != nil {
			if pr.Number <= 0 || pr.Author == "" || action.SafeValue(pr.Author) != nil || len(pr.BaseSHA) < 40 || len(pr.HeadSHA) < 40 ||
				strings.HasPrefix(pr.BaseSHA, "-") || strings.HasPrefix(pr.HeadSHA, "-") {
				t.Fatalf("accepted %+v", pr)
			}
		}
	})
}

// endless always has another page of other people's comments.
type endless struct{ lists int }

func (e *endless) ListComments(_ context.Context, _, _ string, _ int, opts *github.IssueListCommentsOptions) ([]*github.IssueComment, *github.Response, error) {
	e.lists++
	return []*github.IssueComment{{ID: github.Int64(1), Body: github.String("hi")}}, &github.Response{NextPage: opts.Page + 1}, nil
}

func (e *endless) CreateComment(context.Context, string, string, int, *github.IssueComment) (*github.IssueComment, *github.Response, error) {
	panic("created a comment without reading every page")
}

func (e *endless) EditComment(context.Context, string, string, int64, *github.IssueComment) (*github.IssueComment, *github.Response, error) {
	panic("edited another comment")
}

// TestUpsertBounded: with more pages than the bound, nothing is created
// (a duplicate could result) and the listing stops.
func TestUpsertBounded(t *testing.T) {
	t.Parallel()
	e := &endless{}
	_, err := action.UpsertComment(context.Background(), e, "o", "r", 1, action.Marker+"\nx", true)
	if err == nil || !strings.Contains(err.Error(), "more than 5000 comments") {
		t.Fatalf("err = %v", err)
	}
	if e.lists != 50 {
		t.Errorf("listed %d pages, want 50", e.lists)
	}
	if _, err := action.UpsertComment(context.Background(), e, "o", "r", 1, "no marker", true); err == nil {
		t.Errorf("a body without the marker was accepted")
	}
}
