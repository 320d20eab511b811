package reconcile

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os/exec"
	"strings"

	"github.com/elevate-dev/elevate/internal/gitrepo"
	"github.com/elevate-dev/elevate/internal/ledger"
	"github.com/elevate-dev/elevate/internal/strictyaml"
)

// State is only as good as who wrote it. A status file says "approved,
// grant this" without any check of its own, so reconcile acts on one only if
// it is the version elevate itself last committed: a commit with a single
// parent on main's first-parent history, authored and committed with
// elevate's identity. Whatever reached main through a pull request is
// something else: a merge commit has two parents, and GitHub's squash and
// rebase merges are committed by GitHub. A status that fails this is
// handled by distrust:
//
//   - none of its versions is elevate's (a status added by a PR, a direct
//     push or an admin merge): it is ignored, and the request is verified
//     from scratch as if it had just been merged;
//   - elevate wrote it and something else changed it since (an edited end
//     time, say): the grant elevate recorded is ended and revoked.
//
// Likewise the request file of an open request must still be the one that
// was merged: an edit pushed after the merge ends the grant.
//
// A direct push can forge any identity, so this does not stop someone who
// may push to main (who could also change the workflows); it stops state
// arriving through a pull request, whoever merges it, and any accident.

// provenance is what the history says about one status file.
type provenance struct {
	// trusted is the latest version elevate committed; nil when there is
	// none (or elevate's latest commit removed the file).
	trusted *ledger.Status
	// foreign, when set, says why the checked-out file is not that version.
	foreign string
}

// statusProvenance checks the checked-out status files of ids against
// main's history, in one pass over the commits that touched status/.
func statusProvenance(ctx context.Context, cfg Config, ids []string) (map[string]provenance, error) {
	out := map[string]provenance{}
	if len(ids) == 0 {
		return out, nil
	}
	sig := cfg.As
	if sig.Name == "" || sig.Email == "" {
		sig = ledger.DefaultSignature
	}
	wanted := map[string]string{} // status path -> id
	for _, id := range ids {
		wanted[ledger.StatusPath(id)] = id
	}
	newest := map[string]string{} // id -> the last commit that changed its status
	byElevate := map[string]string{}
	err := walkStatusHistory(ctx, cfg.Repo, func(c historyCommit) bool {
		mine := len(strings.Fields(c.parents)) == 1 && strings.EqualFold(c.author, sig.Email) && strings.EqualFold(c.committer, sig.Email)
		for _, p := range c.paths {
			id, ok := wanted[p]
			if !ok {
				continue
			}
			if _, seen := newest[id]; !seen {
				newest[id] = fmt.Sprintf("commit %s by %s", short(c.sha), c.author)
			}
			if mine {
				byElevate[id] = c.sha
				delete(wanted, p)
			}
		}
		return len(wanted) > 0
	})
	if err != nil {
		return nil, err
	}
	snap := gitrepo.WorkTree(cfg.Repo.Dir)
	for _, id := range ids {
		path := ledger.StatusPath(id)
		last := newest[id]
		if last == "" {
			last = "no commit on " + cfg.Branch
		}
		sha, ok := byElevate[id]
		if !ok {
			out[id] = provenance{foreign: fmt.Sprintf("%s was not written by elevate (last changed by %s)", path, last)}
			continue
		}
		theirs, _, found, err := cfg.Repo.ReadBlob(ctx, sha+":"+path, strictyaml.MaxSize)
		if err != nil && !errors.Is(err, gitrepo.ErrNotBlob) {
			return nil, fmt.Errorf("read %s at %s: %w", path, short(sha), err)
		}
		var st *ledger.Status
		if found && err == nil {
			st, _ = ledger.ParseStatus(theirs)
		}
		if st == nil || st.State.Closed() {
			out[id] = provenance{foreign: fmt.Sprintf("%s was re-created after elevate closed the request (by %s)", path, last)}
			continue
		}
		ours, _, err := snap.Read(ctx, path, strictyaml.MaxSize)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			ours = nil
		}
		if !bytes.Equal(ours, theirs) {
			out[id] = provenance{trusted: st, foreign: fmt.Sprintf("%s was changed outside elevate (by %s)", path, last)}
			continue
		}
		out[id] = provenance{trusted: st}
	}
	return out, nil
}

// historyCommit is one commit of main's first-parent history that changed
// something under status/.
type historyCommit struct {
	sha, parents, author, committer string
	paths                           []string
}

// walkStatusHistory streams main's first-parent history of status/, newest
// first, to f until f returns false. Every field is NUL-separated (no
// commit message is read, so nothing a committer wrote can fake a field).
func walkStatusHistory(ctx context.Context, repo *gitrepo.Repo, f func(historyCommit) bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", "--literal-pathspecs", "log", "--first-parent", "--no-renames", "-z",
		"--format=%x01%x00%H%x00%P%x00%ae%x00%ce%x00", "--name-only", "HEAD", "--", ledger.StatusDir+"/")
	cmd.Dir = repo.Dir
	cmd.Env = append(cmd.Environ(), "GIT_TERMINAL_PROMPT=0", "LC_ALL=C")
	cmd.Env = append(cmd.Env, repo.Env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("git log %s: %w", ledger.StatusDir, err)
	}
	r := bufio.NewReaderSize(stdout, 64<<10)
	token := func() (string, error) {
		s, err := r.ReadString(0)
		return strings.TrimPrefix(strings.TrimSuffix(s, "\x00"), "\n"), err
	}
	var cur *historyCommit
	stopped := false
	var rerr error
	for !stopped {
		tok, err := token()
		if tok == "\x01" {
			if cur != nil && !f(*cur) {
				stopped = true
				break
			}
			var fields [4]string
			for i := range fields {
				if fields[i], err = token(); err != nil {
					break
				}
			}
			cur = &historyCommit{sha: fields[0], parents: fields[1], author: fields[2], committer: fields[3]}
		} else if tok != "" && cur != nil {
			cur.paths = append(cur.paths, tok)
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				rerr = err
			}
			break
		}
	}
	if !stopped && rerr == nil && cur != nil {
		f(*cur)
	}
	if stopped {
		cancel()
		_ = cmd.Wait()
		return nil
	}
	if err := cmd.Wait(); err != nil {
		if strings.Contains(stderr.String(), "does not have any commits") {
			return nil
		}
		return fmt.Errorf("git log %s: %w: %s", ledger.StatusDir, err, strings.TrimSpace(stderr.String()))
	}
	return rerr
}

// requestChanged says why the request file of an open request is not the
// file merged in the commit its status names, or "" if it is.
func requestChanged(ctx context.Context, cfg Config, path string, st *ledger.Status) string {
	if st.MergeCommit == "" {
		return fmt.Sprintf("the status of %s names no merge commit, so its request cannot be checked", path)
	}
	merged, _, found, err := cfg.Repo.ReadBlob(ctx, st.MergeCommit+":"+path, strictyaml.MaxSize+1)
	if err != nil || !found {
		return fmt.Sprintf("%s is not in its merge commit %s", path, short(st.MergeCommit))
	}
	now, _, err := gitrepo.WorkTree(cfg.Repo.Dir).Read(ctx, path, strictyaml.MaxSize+1)
	if err != nil || !bytes.Equal(now, merged) {
		return fmt.Sprintf("%s was changed after it was merged in %s; merged requests never change (an extension is a new request)", path, short(st.MergeCommit))
	}
	return ""
}
