package githubfake_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/elevate-dev/elevate/internal/testenv/githubfake"
)

func TestHang(t *testing.T) {
	t.Parallel()
	s := githubfake.New(t)
	s.AddPR(githubfake.PR{Number: 1, Author: "alice", HeadSHA: "h1"})
	s.Inject(githubfake.RoutePull, 1, githubfake.Hang(time.Hour))
	s.Inject(githubfake.RoutePull, 1, githubfake.Hang(10*time.Millisecond))
	c := s.Client()

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := c.PullRequests.Get(ctx, "acme", "access", 1)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("held request: err = %v after %s, want the client's deadline", err, time.Since(start))
	}
	pr, _, err := c.PullRequests.Get(context.Background(), "acme", "access", 1)
	if err != nil || pr.GetNumber() != 1 {
		t.Fatalf("short hang: %v, %v; want the PR after the delay", pr, err)
	}
}
