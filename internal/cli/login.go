package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/elevate-dev/elevate/internal/gitrepo"
)

// githubLogin finds the user's GitHub login, in this order: GITHUB_ACTOR (set
// on GitHub Actions), `git config github.user` (the convention hub and other
// tools use), then the user GITHUB_TOKEN belongs to (GET /user). It returns
// the login and where it came from, or "" when none of them says.
func githubLogin(ctx context.Context, env Env, repo *gitrepo.Repo) (string, string) {
	if l := strings.TrimSpace(env.Getenv("GITHUB_ACTOR")); l != "" {
		return l, "GITHUB_ACTOR"
	}
	if repo != nil {
		if out, err := repo.Run(ctx, "config", "--get", "github.user"); err == nil {
			if l := strings.TrimSpace(string(out)); l != "" {
				return l, "git config github.user"
			}
		}
	}
	if gh, err := githubAPI(env); err == nil {
		if u, _, err := gh.Users.Get(ctx, ""); err == nil && u.GetLogin() != "" {
			return u.GetLogin(), "the owner of GITHUB_TOKEN"
		}
	}
	return "", ""
}

// githubAPI builds a client from GITHUB_TOKEN and GITHUB_API_URL alone (no
// repository needed).
func githubAPI(env Env) (*github.Client, error) {
	token := env.Getenv("GITHUB_TOKEN")
	if token == "" {
		return nil, fmt.Errorf("GITHUB_TOKEN is not set")
	}
	hc := env.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	c := github.NewClient(hc).WithAuthToken(token)
	if api := env.Getenv("GITHUB_API_URL"); api != "" {
		u, err := url.Parse(strings.TrimSuffix(api, "/") + "/")
		if err != nil || u.Scheme == "" {
			return nil, fmt.Errorf("GITHUB_API_URL %q is not a URL", api)
		}
		c.BaseURL = u
	}
	return c, nil
}

var remoteRE = regexp.MustCompile(`^(?:https://[^/]+/|ssh://git@[^/]+/|git@[^:]+:)([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?$`)

// repository is owner/name from GITHUB_REPOSITORY, or else from the URL of
// the origin remote.
func repository(ctx context.Context, env Env, repo *gitrepo.Repo) (string, string, error) {
	if full := env.Getenv("GITHUB_REPOSITORY"); full != "" {
		owner, name, ok := strings.Cut(full, "/")
		if !ok || owner == "" || name == "" {
			return "", "", fmt.Errorf("GITHUB_REPOSITORY %q is not owner/name", full)
		}
		return owner, name, nil
	}
	out, err := repo.Run(ctx, "remote", "get-url", "origin")
	if err == nil {
		if m := remoteRE.FindStringSubmatch(strings.TrimSpace(string(out))); m != nil {
			return m[1], m[2], nil
		}
	}
	return "", "", fmt.Errorf("cannot tell the GitHub repository: set GITHUB_REPOSITORY=owner/name")
}
