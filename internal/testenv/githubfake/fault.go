package githubfake

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// FaultKind says what an injected fault imitates.
type FaultKind int

// The kinds of fault.
const (
	// StatusError is a plain error status with GitHub's error body.
	StatusError FaultKind = iota
	// PrimaryRateLimit is the hourly limit: x-ratelimit-remaining 0 and
	// x-ratelimit-reset.
	PrimaryRateLimit
	// SecondaryRateLimit is the abuse limit: Retry-After and GitHub's
	// documented "secondary rate limit" message.
	SecondaryRateLimit
	// Slow holds the request for Delay (or until the client gives up),
	// then answers it normally: a long Delay is a hang.
	Slow
)

// Fault is an error the fake answers instead of the real response.
type Fault struct {
	Kind FaultKind
	// Status is the HTTP status: 403, 404, 500, 502... for StatusError; 403
	// or 429 for the rate limits.
	Status int
	// Reset is the primary limit's x-ratelimit-reset; zero means the current
	// second. go-github remembers a primary limit until Reset by the wall
	// clock and refuses to send requests before then, so a Reset in the
	// future keeps later calls from reaching the fake at all.
	Reset time.Time
	// RetryAfter is the secondary limit's Retry-After, in whole seconds.
	// go-github likewise refuses to send requests until it has passed.
	RetryAfter time.Duration
	// Delay is how long a Slow fault holds the request.
	Delay time.Duration
}

// Hang is a Slow fault: the request is held for d, or until the client
// gives up, and then answered normally.
func Hang(d time.Duration) Fault { return Fault{Kind: Slow, Delay: d} }

// Status is a plain error fault with the given HTTP status.
func Status(code int) Fault { return Fault{Kind: StatusError, Status: code} }

// PrimaryLimit is a primary rate-limit fault (status 403 or 429) that
// resets at reset.
func PrimaryLimit(code int, reset time.Time) Fault {
	return Fault{Kind: PrimaryRateLimit, Status: code, Reset: reset}
}

// SecondaryLimit is a secondary rate-limit fault (status 403 or 429) with
// the given Retry-After.
func SecondaryLimit(code int, retryAfter time.Duration) Fault {
	return Fault{Kind: SecondaryRateLimit, Status: code, RetryAfter: retryAfter}
}

type fault struct {
	Fault
	times  int
	served int
}

// Inject makes the next times calls to route answer f instead of the real
// response. Faults injected on one route are served in the order injected.
func (s *Server) Inject(route Route, times int, f Fault) {
	if !isRoute(route) {
		s.t.Fatalf("githubfake: Inject: unknown route %q", route)
	}
	if times < 1 {
		s.t.Fatalf("githubfake: Inject: times must be at least 1, got %d", times)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[route] = append(s.faults[route], &fault{Fault: f, times: times})
}

func (s *Server) takeFaultLocked(route Route) *fault {
	for _, f := range s.faults[route] {
		if f.served < f.times {
			f.served++
			injected.Add(1)
			return f
		}
	}
	return nil
}

// injected counts the faults every Server in the process served.
var injected atomic.Int64

// Injected is how many faults every Server in this test binary served so
// far, for a report of what a suite tried.
func Injected() int64 { return injected.Load() }

func (f *fault) write(w http.ResponseWriter) {
	h := w.Header()
	switch f.Kind {
	case PrimaryRateLimit:
		reset := f.Reset
		if reset.IsZero() {
			reset = time.Now()
		}
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Used", strconv.Itoa(rateLimitLimit))
		h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
		writeJSON(w, f.Status, map[string]any{
			"message":           "API rate limit exceeded for installation ID 1.",
			"documentation_url": primaryDocURL,
			"status":            strconv.Itoa(f.Status),
		})
	case SecondaryRateLimit:
		h.Set("Retry-After", strconv.Itoa(int(f.RetryAfter/time.Second)))
		writeJSON(w, f.Status, map[string]any{
			"message":           secondaryLimMsg,
			"documentation_url": secondaryDocURL,
			"status":            strconv.Itoa(f.Status),
		})
	default:
		if f.Status == http.StatusBadGateway {
			// A 502 comes from a proxy, not the API: a non-JSON body checks
			// that clients cope with one.
			h.Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(f.Status)
			_, _ = w.Write([]byte("<html><body><h1>502 Bad Gateway</h1></body></html>\n"))
			return
		}
		writeError(w, f.Status, http.StatusText(f.Status))
	}
}
