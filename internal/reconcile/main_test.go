package reconcile_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevate-dev/elevate/internal/reconcile"
	"github.com/elevate-dev/elevate/internal/testenv/githubfake"
	"github.com/elevate-dev/elevate/internal/testenv/moto"
	"github.com/elevate-dev/elevate/internal/testenv/world"
)

// TestMain runs the tests against one moto_server. With ELEVATE_TALLY set
// it prints what the tests tried: the figures in RELIABILITY.md.
func TestMain(m *testing.M) {
	code := moto.Run(m)
	if os.Getenv("ELEVATE_TALLY") != "" {
		runs, kills, checks := world.Tally()
		fmt.Printf("tally: %d runs (%d killed), %d AWS faults and %d GitHub faults injected, %d agreement checks\n",
			runs, kills, moto.Injected(), githubfake.Injected(), checks)
	}
	os.Exit(code)
}

const (
	sandbox = "777788889999"
	admin   = "AdministratorAccess"
	reader  = "ReadOnlyAccess"
)

// t0 is when the world's pull requests merge (the GitHub fake's clock).
var t0 = githubfake.Epoch

// requestFile is a sandbox request file: set on the sandbox account for
// duration, starting at start (RFC 3339) or at merge when start is "".
func requestFile(requester, set, duration, start string) string {
	s := "# yaml-language-server: $schema=../schema/request.schema.json\nrequester: " + requester +
		"\naccount: sandbox\npermissionSet: " + set + "\nduration: " + duration + "\nreason: Try the new VPC set-up before the review\n"
	if start != "" {
		s += "start: \"" + start + "\"\n"
	}
	return s
}

// merge merges one request file by its requester, approved by carol.
func merge(w *world.World, id, content string) world.Merged {
	requester := strings.TrimPrefix(strings.Split(content, "requester: ")[1], "")
	requester = strings.Fields(requester)[0]
	return w.Merge(world.PR{Files: map[string]string{"requests/" + id + ".yaml": content}, Author: requester, Approvers: []string{"carol"}})
}

// user is the Identity Center user name of a login.
func user(login string) string { return world.Users[login] }

// tuple is a sandbox assignment of login.
func tuple(login, set string) world.Tuple {
	return world.Tuple{User: user(login), PermissionSet: set, Account: sandbox}
}

// mustReconcile runs reconcile and fails t on an error or a failed step.
func mustReconcile(t *testing.T, w *world.World, now time.Time, change func(*reconcile.Config)) *reconcile.Result {
	t.Helper()
	res, err := w.Reconcile(now, change)
	if err != nil {
		t.Fatalf("reconcile at %s: %v\n%s", now.Format(time.RFC3339), err, describe(res))
	}
	if f := res.Failed(); len(f) > 0 {
		t.Fatalf("reconcile at %s: failed steps:\n%s", now.Format(time.RFC3339), describe(res))
	}
	return res
}

// describe lists a result's steps for failure messages.
func describe(res *reconcile.Result) string {
	if res == nil {
		return "(no result)"
	}
	var b strings.Builder
	for _, s := range res.Sorted() {
		fmt.Fprintf(&b, "  %s %s state=%s shared=%v reason=%q err=%v\n", s.ID, s.Kind, s.Status.State, s.Shared, s.Reason, s.Err)
	}
	fmt.Fprintf(&b, "  pushed=%v", res.Pushed)
	return b.String()
}

// kinds maps each step's id to its kind.
func kinds(res *reconcile.Result) map[string]reconcile.Kind {
	m := map[string]reconcile.Kind{}
	for _, s := range res.Steps {
		m[s.ID] = s.Kind
	}
	return m
}

// errKilled is what a test's Crash hook returns to stop a run.
var errKilled = errors.New("killed by the test")

// crashAt returns a Crash hook that kills the run at the point named, and
// records every point it passes.
func crashAt(point string) (hook func(string) error, passed func() []string) {
	var mu sync.Mutex
	var seen []string
	return func(p string) error {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, p)
			if p == point {
				world.CountKill()
				return errKilled
			}
			return nil
		}, func() []string {
			mu.Lock()
			defer mu.Unlock()
			return append([]string(nil), seen...)
		}
}
