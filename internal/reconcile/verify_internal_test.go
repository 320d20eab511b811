package reconcile

import (
	"context"
	"testing"

	"github.com/elevate-dev/elevate/internal/gitrepo"
	"github.com/elevate-dev/elevate/internal/testenv/gittest"
)

// TestVerifyOutOfTimeIsNotADenial: a request whose verification is cut
// short by the deadline (git or GitHub cancelled) is retried by the next
// run, never recorded as denied.
func TestVerifyOutOfTimeIsNotADenial(t *testing.T) {
	t.Parallel()
	r := gittest.New(t)
	r.Write("requests/alice-x.yaml", "requester: alice\naccount: sandbox\npermissionSet: AdministratorAccess\nduration: 1h\nreason: Try the new VPC set-up before the review\n")
	r.Commit("add")
	repo, err := gitrepo.Open(context.Background(), r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	steps := []Step{{ID: "alice-x"}}
	verifyAll(ctx, Config{Repo: repo, Branch: "main"}, steps, []newRequest{{index: 0, id: "alice-x", path: "requests/alice-x.yaml"}})
	if s := steps[0]; s.Kind == Deny && s.Err == nil {
		t.Errorf("denied for good when out of time: %s", s.Reason)
	}
	if steps[0].Err == nil {
		t.Errorf("step %+v: want an error, retried by the next run", steps[0])
	}
}
