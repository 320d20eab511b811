package approval

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v62/github"
)

var fuzzStates = []string{"APPROVED", "CHANGES_REQUESTED", "DISMISSED", "COMMENTED", "PENDING", "approved", "SOMETHING_NEW"}

// FuzzLatestOpinions compares latestOpinions with a direct reading of the
// rule: for each reviewer, the last review whose state is an opinion.
func FuzzLatestOpinions(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3})
	f.Add([]byte{5, 15, 20, 25, 30, 6, 11})
	f.Fuzz(func(t *testing.T, data []byte) {
		var reviews []*github.PullRequestReview
		for i, b := range data {
			r := &github.PullRequestReview{ID: github.Int64(int64(i + 1)), State: github.String(fuzzStates[int(b/5)%len(fuzzStates)])}
			if id := int64(b % 5); id != 0 {
				r.User = &github.User{ID: github.Int64(id), Login: github.String("u" + strconv.FormatInt(id, 10))}
			}
			reviews = append(reviews, r)
		}
		got, ignored := latestOpinions(reviews)

		isOpinion := func(s string) bool {
			s = strings.ToUpper(s)
			return s == "APPROVED" || s == "CHANGES_REQUESTED" || s == "DISMISSED"
		}
		want := map[int64]*github.PullRequestReview{}
		nullApprovals := 0
		for i := len(reviews) - 1; i >= 0; i-- {
			r := reviews[i]
			if r.User == nil {
				if strings.ToUpper(r.GetState()) == "APPROVED" {
					nullApprovals++
				}
				continue
			}
			if _, done := want[r.User.GetID()]; !done && isOpinion(r.GetState()) {
				want[r.User.GetID()] = r
			}
		}
		if len(got) != len(want) {
			t.Fatalf("got %d opinions, want %d", len(got), len(want))
		}
		seen := map[int64]bool{}
		for _, r := range got {
			id := r.GetUser().GetID()
			if seen[id] {
				t.Fatalf("user %d twice", id)
			}
			seen[id] = true
			if want[id] != r {
				t.Fatalf("user %d: got review %d, want %d", id, r.GetID(), want[id].GetID())
			}
		}
		if len(ignored) != nullApprovals {
			t.Fatalf("%d ignored, want %d approvals without a user", len(ignored), nullApprovals)
		}
	})
}

func FuzzParseTeam(f *testing.F) {
	for _, s := range []string{"acme/security", "acme", "/x", "a/b/c", "a /b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := parseTeam(s)
		if err != nil {
			return
		}
		if tm.String() != s || tm.org == "" || tm.slug == "" || strings.Contains(tm.slug, "/") {
			t.Fatalf("parseTeam(%q) = %+v", s, tm)
		}
	})
}

// FuzzRateLimitWait feeds arbitrary rate-limit headers: no panic, a wait of
// at least a second, Retry-After taken literally, and never a short wait
// for a long limit.
func FuzzRateLimitWait(f *testing.F) {
	f.Add(429, "60", "", "", "")
	f.Add(403, "", "0", "1700000000", "")
	f.Add(403, "", "5", "", "You have exceeded a secondary rate limit.")
	f.Add(429, "99999999999999999", "0", "99999999999999999", "")
	f.Add(500, "1", "0", "1", "")
	now := time.Unix(1_700_000_000, 0)
	v := New(nil, nil, Options{Now: func() time.Time { return now }})
	f.Fuzz(func(t *testing.T, status int, retryAfter, remaining, reset, msg string) {
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		h.Set("X-RateLimit-Remaining", remaining)
		h.Set("X-RateLimit-Reset", reset)
		err := &github.ErrorResponse{Response: &http.Response{StatusCode: status, Header: h}, Message: msg}
		wait, limited := v.rateLimitWait(err)
		if status != 403 && status != 429 {
			if limited {
				t.Fatalf("status %d taken for a rate limit", status)
			}
			return
		}
		if !limited {
			if status == 429 {
				t.Fatal("a 429 is always a rate limit")
			}
			return
		}
		if wait < time.Second {
			t.Fatalf("wait %v < 1s", wait)
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(retryAfter), 10, 64); err == nil && n >= 0 {
			if n >= 1 && n < 1e6 && wait != time.Duration(n)*time.Second {
				t.Fatalf("Retry-After %d: wait %v", n, wait)
			}
			if n >= 1e6 && wait < time.Duration(1e6)*time.Second {
				t.Fatalf("Retry-After %d: short wait %v", n, wait)
			}
			return
		}
		if remaining == "0" {
			if n, err := strconv.ParseInt(reset, 10, 64); err == nil && n > now.Unix()+1e6 && wait < time.Duration(1e6)*time.Second {
				t.Fatalf("reset %d: short wait %v", n, wait)
			}
		}
	})
}

func TestSleepHonoursContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sleep(ctx, time.Hour); err == nil {
		t.Error("sleep ignored a cancelled context")
	}
	if err := sleep(context.Background(), time.Millisecond); err != nil {
		t.Error(err)
	}
}
