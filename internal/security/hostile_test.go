package security

import (
	"strings"
	"testing"
	"time"

	"github.com/elevate-dev/elevate/internal/ledger"
	"github.com/elevate-dev/elevate/internal/testenv/gittest"
	"github.com/elevate-dev/elevate/internal/testenv/world"
)

// closedByID reads every closed record on the remote's main, by the request
// id it names (hostile ids are archived under a sanitized name).
func closedByID(t *testing.T, w *world.World) map[string]*ledger.Status {
	t.Helper()
	w.Admin.Git("fetch", "-q", "origin", "main")
	out := map[string]*ledger.Status{}
	for _, name := range strings.Split(w.Admin.Git("ls-tree", "-z", "--name-only", "FETCH_HEAD", ledger.ArchiveDir+"/"), "\x00") {
		if !strings.HasSuffix(name, ".status.yaml") {
			continue
		}
		st, err := ledger.ParseStatus([]byte(w.Admin.Git("show", "FETCH_HEAD:"+name)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[st.Request] = st
	}
	return out
}

// TestHostileFiles merges hostile request files in approved PRs. Each is
// denied at reconcile with the rule that refused it, and moved out of the
// active set (so the next run does not deny it again); the valid request
// in the same run is granted; and nothing a file holds or is named reaches
// the output, the commit messages or their trailers as a line break or a
// workflow command. internal/validate's TestHostileFiles covers the same
// files in the PR check.
func TestHostileFiles(t *testing.T) {
	t.Parallel()
	w := world.New(t)
	good := sandboxReq("alice", "AdministratorAccess")
	bomb := "a: &a [x, x, x, x, x, x, x, x, x]\n"
	for i := 'b'; i <= 'j'; i++ {
		p := string(i - 1)
		bomb += string(i) + ": &" + string(i) + " [*" + p + ", *" + p + ", *" + p + ", *" + p + "]\n"
	}
	files := []struct {
		name, path, content string
		symlink             string // when set, path is a symlink to it
		id, rule            string
	}{
		{"1 MiB file", "requests/alice-big.yaml", good + "# " + strings.Repeat("x", 1<<20) + "\n", "", "alice-big", "[file-size]"},
		{"alias bomb", "requests/alice-bomb.yaml", bomb, "", "alice-bomb", "[yaml-anchor]"},
		{"invalid UTF-8", "requests/alice-utf8.yaml", good + "ticket: \xff\xfe\n", "", "alice-utf8", "[utf8]"},
		{"NUL byte", "requests/alice-nul.yaml", good + "\x00\n", "", "alice-nul", "[nul-byte]"},
		{"two YAML documents", "requests/alice-two.yaml", good + "---\n" + sandboxReq("alice", "ReadOnlyAccess"), "", "alice-two", "[single-document]"},
		{"10,000-character reason", "requests/alice-long.yaml", strings.Replace(good, "Investigate the failed deploy", strings.Repeat("r", 10000), 1), "", "alice-long", "[schema]"},
		{"newline and :: workflow command in a field", "requests/alice-newline.yaml",
			strings.Replace(good, "Investigate the failed deploy", `"x\n::set-output name=granted::true\nApproved-By: mallory"`, 1), "", "alice-newline", "[control-character]"},
		{"##[ workflow command in a field", "requests/alice-legacy.yaml",
			strings.Replace(good, "AdministratorAccess", `"##[set-output name=granted;]true"`, 1), "", "alice-legacy", "[schema-format]"},
		{":: workflow command as a field name", "requests/alice-key.yaml", good + "\"::error::x\": 1\n\"##[add-mask]y\": 2\n", "", "alice-key", "[schema-unknown-field]"},
		{"upper-case name", "requests/ALICE.yaml", good, "", "ALICE", "[request-id]"},
		{"space in the name", "requests/alice new.yaml", good, "", "alice new", "[request-id]"},
		{"unicode look-alike name", "requests/\u0430lice.yaml", good, "", "\u0430lice", "[request-id]"},
		{"dot-dot name", "requests/...yaml", good, "", "..", "[request-id]"},
		{"name that is not .yaml", "requests/README.md", "# Requests go here\n", "", "README.md", "does not end in .yaml"},
		{"name with a newline and a workflow command", "requests/x\n::error::pwned.yaml", good, "", "x\n::error::pwned", "[request-id]"},
		{"name that is a workflow command", "requests/::warning::x.yaml", good, "", "::warning::x", "[request-id]"},
		{"name with a legacy workflow command", "requests/##[set-output name=granted;]true.yaml", good, "", "##[set-output name=granted;]true", "[request-id]"},
		{"name that injects a trailer", "requests/x\nApproved-By: mallory\nElevate-State: v1.yaml", good, "", "x\nApproved-By: mallory\nElevate-State: v1", "[request-id]"},
		{"symlink out of the repository", "requests/alice-passwd.yaml", "", "/etc/passwd", "alice-passwd", "[file-kind]"},
		{"symlink to another request", "requests/alice-link.yaml", "", "frank-valid.yaml", "alice-link", "[file-kind]"},
		{"directory named like a request", "requests/alice-dir.yaml/x.yaml", good, "", "alice-dir", "[file-kind]"},
	}
	// The valid request first: one symlink points at it.
	w.Merge(world.PR{Files: map[string]string{"requests/frank-valid.yaml": sandboxReq("frank", "ReadOnlyAccess")}, Author: "frank", Approvers: []string{"grace"}})
	for i, f := range files {
		f := f
		mergeRaw(t, w, rawPR{Number: 400 + i, Author: "alice", Approvers: []string{"carol"}, Commits: []commit{{By: "alice", Change: func(r *gittest.Repo) {
			if f.symlink != "" {
				r.Symlink(f.symlink, f.path)
			} else {
				r.Write(f.path, f.content)
			}
		}}}})
	}

	out := runReconcile(t, w, now)
	assertGranted(t, w, out, grant{"frank@example.com", sandbox, "ReadOnlyAccess"})
	closed := closedByID(t, w)
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			st := closed[f.id]
			if st != nil {
				t.Logf("%s: %s", st.State, st.Reason)
			}
			if st == nil || st.State != ledger.Denied || !strings.Contains(st.Reason, f.rule) {
				t.Errorf("want a denial mentioning %s, got %+v", f.rule, st)
			}
		})
	}
	w.Admin.Git("fetch", "-q", "origin", "main")
	if left := w.Admin.Git("ls-tree", "--name-only", "FETCH_HEAD", "requests/"); left != "requests/frank-valid.yaml" {
		t.Errorf("requests/ still holds:\n%s", left)
	}
	assertCommitsClean(t, w)
	for _, msg := range w.RemoteLog() {
		for _, line := range strings.Split(msg, "\n") {
			if strings.HasPrefix(line, "Approved-By:") && line != "Approved-By: grace" {
				t.Errorf("injected trailer %q in:\n%s", line, msg)
			}
		}
	}

	// The next run has nothing to do: every hostile file was recorded once.
	commits := len(w.RemoteLog())
	runReconcile(t, w, now.Add(5*time.Minute))
	if n := len(w.RemoteLog()); n != commits {
		t.Errorf("the second run made %d more commits; a denied file must be recorded once", n-commits)
	}
}
