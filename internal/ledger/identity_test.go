package ledger

import (
	"context"
	"strings"
	"testing"
)

// TestRecordCommitsAsElevate: a state commit's author and committer are
// elevate's identity whatever the environment says (git prefers
// GIT_COMMITTER_* over -c user.*), since reconcile trusts a status file only
// if elevate committed it.
func TestRecordCommitsAsElevate(t *testing.T) {
	t.Parallel()
	r, l := setup(t)
	l.Repo.Env = append(l.Repo.Env, "GIT_COMMITTER_NAME=Runner", "GIT_COMMITTER_EMAIL=runner@example.com", "GIT_AUTHOR_EMAIL=runner@example.com")
	st := &Status{State: Active, Requester: "alice", Start: "2026-12-03T10:00:00Z", End: "2026-12-03T12:00:00Z"}
	if _, err := l.Record(context.Background(), Entry{ID: "alice-x", Path: "requests/alice-x.yaml"}, st, "grant"); err != nil {
		t.Fatal(err)
	}
	want := DefaultSignature.Email + " " + DefaultSignature.Email
	if got := r.Git("log", "-1", "--format=%ae %ce"); got != want {
		t.Errorf("state commit made as %q, want %q", got, want)
	}
}

// TestMarshalHostileID: the id is a file name anyone chose; a line break in
// it must not end the header comment and corrupt the status file.
func TestMarshalHostileID(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"x\n::error::pwned", "x\r\nstate: active", "a\u2028b"} {
		for _, state := range []State{Denied, Active} {
			data := (&Status{Version: 1, Request: id, State: state}).Marshal()
			st, err := ParseStatus(data)
			if err != nil || st.Request != id || st.State != state {
				t.Errorf("%q (%s) does not round-trip: %v\n%s", id, state, err, data)
			}
			if first, _, _ := strings.Cut(string(data), "\n"); strings.ContainsAny(first[1:], "\r\u2028") {
				t.Errorf("header comment is not one line: %q", first)
			}
		}
	}
}
