package reconcile

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/elevate-dev/elevate/internal/gitrepo"
)

var (
	// errMoved is a push rejected because main moved since the checkout:
	// fetch it and reconcile again.
	errMoved = errors.New("push rejected: main moved")
	// errRefused is a push the remote refused for another reason (a
	// ruleset, a hook, a missing bypass permission): trying again will not
	// help.
	errRefused = errors.New("the remote refused the state commits")
)

// push pushes HEAD to the branch. A transport failure is retried,
// PushAttempts times in all with jittered backoff, after checking that the
// push did not land after all; a rejection is classified at once.
func push(ctx context.Context, cfg Config) error {
	attempts := cfg.pushAttempts()
	for try := 1; ; try++ {
		out, err := cfg.Repo.Run(ctx, "push", "--porcelain", cfg.Remote, "HEAD:refs/heads/"+cfg.Branch)
		if err == nil {
			return nil
		}
		msg := string(out)
		var ge *gitrepo.Error
		if errors.As(err, &ge) {
			msg = strings.TrimSpace(ge.Stderr + "\n" + msg)
		}
		switch pushOutcome(msg) {
		case errMoved:
			return fmt.Errorf("%w: %s", errMoved, oneLine(msg))
		case errRefused:
			return fmt.Errorf("%w (does elevate's identity bypass the branch's rules?): %s", errRefused, oneLine(msg))
		}
		if landed(ctx, cfg) {
			return nil
		}
		if try >= attempts || ctx.Err() != nil {
			return fmt.Errorf("push state commits to %s (%d attempts): %w", cfg.Remote, try, err)
		}
		cfg.logf("push failed, trying again: %s", oneLine(msg))
		if err := sleep(ctx, cfg.backoff(try)); err != nil {
			return fmt.Errorf("push state commits: %w", err)
		}
	}
}

// pushOutcome classifies what git push printed: errMoved, errRefused, or
// nil for anything else (transport trouble).
func pushOutcome(msg string) error {
	lower := strings.ToLower(msg)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(lower, w) {
				return true
			}
		}
		return false
	}
	switch {
	case has("[rejected]") && has("fetch first", "non-fast-forward", "stale info"):
		return errMoved
	case has("[remote rejected]") && has("cannot lock ref", "failed to lock", "failed to update ref", "incorrect old value", "but expected"):
		// Another push won the race for the ref on the server.
		return errMoved
	case has("[rejected]", "[remote rejected]", "protected branch", "rule violations", "gh013", "gh006"):
		return errRefused
	}
	return nil
}

// landed reports whether the remote's branch is at HEAD: a push whose
// answer was lost may have worked.
func landed(ctx context.Context, cfg Config) bool {
	head, err := cfg.Repo.Run(ctx, "rev-parse", "HEAD")
	if err != nil {
		return false
	}
	out, err := cfg.Repo.Run(ctx, "ls-remote", cfg.Remote, "refs/heads/"+cfg.Branch)
	if err != nil {
		return false
	}
	f := strings.Fields(string(out))
	return len(f) > 0 && f[0] == strings.TrimSpace(string(head))
}

// resetToRemote fetches the branch and resets the checkout to it, retrying
// a failed fetch like a failed push.
func resetToRemote(ctx context.Context, cfg Config) error {
	attempts := cfg.pushAttempts()
	for try := 1; ; try++ {
		_, err := cfg.Repo.Run(ctx, "fetch", "-q", cfg.Remote, cfg.Branch)
		if err == nil {
			break
		}
		if try >= attempts || ctx.Err() != nil {
			return fmt.Errorf("fetch %s: %w", cfg.Branch, err)
		}
		if err := sleep(ctx, cfg.backoff(try)); err != nil {
			return fmt.Errorf("fetch %s: %w", cfg.Branch, err)
		}
	}
	if _, err := cfg.Repo.Run(ctx, "reset", "-q", "--hard", "FETCH_HEAD"); err != nil {
		return fmt.Errorf("reset to %s/%s: %w", cfg.Remote, cfg.Branch, err)
	}
	return nil
}

// backoff is the wait before attempt n+1: PushBackoff, or about 0.5s
// doubling per attempt (at most 8s), each jittered by up to half either
// way so that runs that collided do not collide again.
func (cfg Config) backoff(n int) time.Duration {
	if cfg.PushBackoff != nil {
		return cfg.PushBackoff(n)
	}
	base := 500 * time.Millisecond << min(n-1, 4)
	return base/2 + rand.N(base)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 500 {
		s = s[:500] + "..."
	}
	return s
}
