package githubfake

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v62/github"
)

// TestWrites drives the write routes through go-github, as
// `elevate request --open-pr` does, including the errors GitHub answers.
func TestWrites(t *testing.T) {
	t.Parallel()
	s := New(t)
	s.SetToken("tok")
	c := s.Client()
	ctx := context.Background()
	status := func(err error) int {
		var ge *github.ErrorResponse
		if errors.As(err, &ge) {
			return ge.Response.StatusCode
		}
		return 0
	}

	if _, _, err := c.Users.Get(ctx, ""); status(err) != http.StatusForbidden {
		t.Errorf("GET /user as an installation token: %v, want 403", err)
	}
	s.SetTokenUser("alice")
	if u, _, err := c.Users.Get(ctx, ""); err != nil || u.GetLogin() != "alice" || u.GetType() != "User" {
		t.Errorf("GET /user = %+v, %v", u, err)
	}

	if _, _, err := c.Git.GetRef(ctx, "acme", "access", "heads/main"); status(err) != http.StatusNotFound {
		t.Errorf("missing ref: %v, want 404", err)
	}
	s.SetRef("heads/main", "b0")
	ref, _, err := c.Git.GetRef(ctx, "acme", "access", "heads/main")
	if err != nil || ref.GetRef() != "refs/heads/main" || ref.GetObject().GetSHA() != "b0" || ref.GetObject().GetType() != "commit" {
		t.Fatalf("GetRef = %+v, %v", ref, err)
	}
	newRef := func(name, sha string) error {
		_, _, err := c.Git.CreateRef(ctx, "acme", "access", &github.Reference{Ref: github.String(name), Object: &github.GitObject{SHA: github.String(sha)}})
		return err
	}
	if err := newRef("refs/heads/elevate/x", "b0"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, ref, sha string }{{"exists", "refs/heads/elevate/x", "b0"}, {"unknown commit", "refs/heads/y", "nope"}, {"one slash", "refs/y", "b0"}} {
		if err := newRef(tt.ref, tt.sha); status(err) != http.StatusUnprocessableEntity {
			t.Errorf("CreateRef %s: %v, want 422", tt.name, err)
		}
	}

	data := []byte("requester: alice\n")
	opts := &github.RepositoryContentFileOptions{Message: github.String("add x"), Content: data, Branch: github.String("elevate/x")}
	res, _, err := c.Repositories.CreateFile(ctx, "acme", "access", "requests/x.yaml", opts)
	if err != nil {
		t.Fatal(err)
	}
	commit := res.GetSHA()
	if res.GetContent().GetSHA() != BlobSHA(data) || res.GetContent().GetPath() != "requests/x.yaml" || len(res.Parents) != 1 || res.Parents[0].GetSHA() != "b0" {
		t.Errorf("CreateFile = %+v", res)
	}
	if got, ok := s.File("heads/elevate/x", "requests/x.yaml"); !ok || string(got) != string(data) {
		t.Errorf("File = %q, %v", got, ok)
	}
	if got, ok := s.Commit(commit); !ok || got.Parent != "b0" || got.Message != "add x" || !cmp.Equal(got.Files, []string{"requests/x.yaml"}) {
		t.Errorf("Commit = %+v", got)
	}
	if _, _, err := c.Repositories.CreateFile(ctx, "acme", "access", "requests/x.yaml", opts); status(err) != http.StatusUnprocessableEntity {
		t.Errorf("overwrite without sha: %v, want 422", err)
	}
	opts.Branch = github.String("nope")
	if _, _, err := c.Repositories.CreateFile(ctx, "acme", "access", "requests/y.yaml", opts); status(err) != http.StatusNotFound {
		t.Errorf("unknown branch: %v, want 404", err)
	}

	s.Inject(RouteCreatePull, 1, Status(http.StatusBadGateway))
	newPR := &github.NewPullRequest{Title: github.String("Request x"), Head: github.String("elevate/x"), Base: github.String("main"), Body: github.String("why")}
	if _, _, err := c.PullRequests.Create(ctx, "acme", "access", newPR); err == nil {
		t.Error("the injected 502 was not served")
	}
	pr, _, err := c.PullRequests.Create(ctx, "acme", "access", newPR)
	if err != nil {
		t.Fatal(err)
	}
	if pr.GetNumber() != 1 || pr.GetUser().GetLogin() != "alice" || pr.GetHead().GetRef() != "elevate/x" || pr.GetHead().GetSHA() != commit || pr.GetState() != "open" {
		t.Errorf("Create = number %d user %s head %s@%s state %s", pr.GetNumber(), pr.GetUser().GetLogin(), pr.GetHead().GetRef(), pr.GetHead().GetSHA(), pr.GetState())
	}
	if _, _, err := c.PullRequests.Create(ctx, "acme", "access", newPR); status(err) != http.StatusUnprocessableEntity {
		t.Errorf("second PR for the branch: %v, want 422", err)
	}
	files, _, err := c.PullRequests.ListFiles(ctx, "acme", "access", 1, nil)
	if err != nil || len(files) != 1 || files[0].GetFilename() != "requests/x.yaml" || files[0].GetStatus() != "added" || files[0].GetSHA() != BlobSHA(data) {
		t.Errorf("ListFiles = %+v, %v", files, err)
	}
	commits, _, err := c.PullRequests.ListCommits(ctx, "acme", "access", 1, nil)
	if err != nil || len(commits) != 1 || commits[0].GetSHA() != commit || commits[0].GetAuthor().GetLogin() != "alice" {
		t.Errorf("ListCommits = %+v, %v", commits, err)
	}
	if n := s.CallCount(RouteCreatePull); n != 3 {
		t.Errorf("%d calls to %s, want 3", n, RouteCreatePull)
	}
}

// TestBlobSHA matches git's object id of a known blob.
func TestBlobSHA(t *testing.T) {
	t.Parallel()
	// printf 'hello\n' | git hash-object --stdin
	if got := BlobSHA([]byte("hello\n")); got != "ce013625030ba8dba906f756967f9e9ca394464a" {
		t.Errorf("BlobSHA = %s", got)
	}
}
