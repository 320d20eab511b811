package approval

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"
)

// call runs one API request, waiting out rate limits (a bounded number of
// times, each wait bounded) and retrying. Any other error is returned at
// once, wrapped with what was being done.
func call[T any](ctx context.Context, v *Verifier, what string, f func() (T, *github.Response, error)) (T, *github.Response, error) {
	var zero T
	for retry := 0; ; retry++ {
		val, resp, err := f()
		if err == nil {
			return val, resp, nil
		}
		wait, limited := v.rateLimitWait(err)
		if !limited || retry >= v.opts.RateLimitRetries {
			return zero, resp, fmt.Errorf("%s: %w", what, err)
		}
		if wait > v.opts.MaxRateLimitWait {
			return zero, resp, fmt.Errorf("%s: rate limited for %s, longer than the %s the verifier waits: %w",
				what, wait.Round(time.Second), v.opts.MaxRateLimitWait, err)
		}
		if err := v.opts.Sleep(ctx, wait); err != nil {
			return zero, resp, fmt.Errorf("%s: waiting for a rate limit: %w", what, err)
		}
	}
}

// rateLimitWait reports whether err is a GitHub rate limit and how long to
// wait, following GitHub's guidance: Retry-After seconds if present; else
// until x-ratelimit-reset when x-ratelimit-remaining is 0; else a minute.
// go-github v62 types only 403 answers as rate limits, so a 429 arrives as a
// plain ErrorResponse and is read from its headers here.
func (v *Verifier) rateLimitWait(err error) (time.Duration, bool) {
	var primary *github.RateLimitError
	if errors.As(err, &primary) {
		return v.untilReset(primary.Rate.Reset.Time), true
	}
	var secondary *github.AbuseRateLimitError
	if errors.As(err, &secondary) {
		if secondary.RetryAfter != nil {
			return max(*secondary.RetryAfter, time.Second), true
		}
		return time.Minute, true
	}
	var resp *github.ErrorResponse
	if !errors.As(err, &resp) || resp.Response == nil {
		return 0, false
	}
	code, h := resp.Response.StatusCode, resp.Response.Header
	if code != http.StatusTooManyRequests && code != http.StatusForbidden {
		return 0, false
	}
	if s := strings.TrimSpace(h.Get("Retry-After")); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
			// Clamped so that an absurd value cannot overflow into a short wait.
			return max(time.Duration(min(n, maxRetryAfter))*time.Second, time.Second), true
		}
	}
	if h.Get("X-RateLimit-Remaining") == "0" {
		if n, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			return v.untilReset(time.Unix(n, 0)), true
		}
		return time.Minute, true
	}
	if code == http.StatusTooManyRequests || strings.Contains(strings.ToLower(resp.Message), "secondary rate limit") {
		return time.Minute, true
	}
	return 0, false
}

// untilReset is the wait until a primary limit resets, plus a second
// because the reset is given in whole seconds.
func (v *Verifier) untilReset(reset time.Time) time.Duration {
	if reset.IsZero() {
		return time.Minute
	}
	return max(reset.Add(time.Second).Sub(v.opts.Now()), time.Second)
}

// maxRetryAfter is the largest Retry-After, in seconds, taken literally.
const maxRetryAfter = 1 << 31
