// Package validate is `elevate validate`: it checks request, policy and
// identity files and reports every problem as a finding. Tree mode checks the
// whole working tree; PR mode checks only what a pull request adds, against
// the policies of its base, and refuses changes a request PR may not make.
package validate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/elevate-dev/elevate/internal/finding"
	"github.com/elevate-dev/elevate/internal/gitrepo"
	"github.com/elevate-dev/elevate/internal/ledger"
	"github.com/elevate-dev/elevate/internal/policy"
	"github.com/elevate-dev/elevate/internal/request"
)

// Checked is a request that parsed, with what the policies decided.
type Checked struct {
	Request  *request.Request
	Decision policy.Decision
}

// Report is the outcome of a validation.
type Report struct {
	// Mode is "tree" or "pr".
	Mode string
	// Base is the base commit in PR mode.
	Base string
	// Findings are every problem found, sorted.
	Findings []finding.Finding
	// Requests are the requests judged (all in tree mode, the added ones in PR mode).
	Requests []Checked
	// Policies is the set the requests were judged against (nil if it did not load).
	Policies *policy.Set
	// Files is how many files were read.
	Files int
}

// Tree checks every request, policy and identity file in the working tree at dir.
func Tree(ctx context.Context, dir string, teams policy.TeamChecker) (*Report, error) {
	snap := gitrepo.WorkTree(dir)
	rep := &Report{Mode: "tree"}
	set, pfs, err := policy.Load(ctx, snap)
	if err != nil {
		return nil, err
	}
	rep.Policies = set
	rep.Findings = append(rep.Findings, pfs...)
	entries, err := snap.List(ctx, request.Dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", request.Dir, err)
	}
	pentries, _ := snap.List(ctx, policy.Dir)
	rep.Files = len(entries) + len(pentries)
	archived := func(id string) (bool, error) {
		_, _, err := snap.Read(ctx, ledger.ArchivePath(id), 0)
		return !errors.Is(err, fs.ErrNotExist), nil
	}
	results := make([]result, len(entries))
	parallel(len(entries), func(i int) {
		results[i] = checkRequest(ctx, snap, entries[i], set, teams, archived)
	})
	for _, r := range results {
		rep.Findings = append(rep.Findings, r.findings...)
		if r.checked != nil {
			rep.Requests = append(rep.Requests, *r.checked)
		}
	}
	finding.Sort(rep.Findings)
	return rep, nil
}

type result struct {
	findings []finding.Finding
	checked  *Checked
}

// checkRequest reads, parses and judges one entry of requests/.
func checkRequest(ctx context.Context, snap gitrepo.Snapshot, e gitrepo.SnapshotEntry, set *policy.Set, teams policy.TeamChecker, archived func(string) (bool, error)) result {
	one := func(rule, msg, fix string) result {
		return result{findings: []finding.Finding{finding.New(e.Path, finding.Pos{Line: 1, Col: 1}, rule, msg, fix)}}
	}
	if e.Kind != gitrepo.File {
		return one("file-kind", fmt.Sprintf("%s is a %s; %s/ may hold only regular request files", e.Path, e.Kind, request.Dir),
			"commit the request as a regular file, not a symlink, directory or submodule")
	}
	if _, ffs := request.IDFromPath(e.Path); ffs != nil {
		return result{findings: ffs}
	}
	data, ffs, err := policy.ReadFile(ctx, snap, e.Path)
	if err != nil {
		return one("read", fmt.Sprintf("cannot read %s: %v", e.Path, err), "")
	}
	if ffs != nil {
		return result{findings: ffs}
	}
	r, pfs := request.Parse(e.Path, data)
	if r == nil {
		return result{findings: pfs}
	}
	var out result
	if archived != nil {
		if gone, err := archived(r.ID); err != nil {
			return one("read", err.Error(), "")
		} else if gone {
			out.findings = append(out.findings, finding.New(e.Path, finding.Pos{Line: 1, Col: 1}, "request-id-reused",
				fmt.Sprintf("request id %q was already used by a closed request (%s)", r.ID, ledger.ArchivePath(r.ID)),
				"request ids are unique forever: rename the file, e.g. "+r.ID+"-2.yaml"))
		}
	}
	if set == nil {
		return out
	}
	d := set.Evaluate(ctx, r, teams)
	out.findings = append(out.findings, d.Findings...)
	out.checked = &Checked{Request: r, Decision: d}
	return out
}

// PR checks a pull request: head against its merge base with base. Policies,
// identities and the state folders come from base, never from the PR. Only
// request files the PR adds are checked as requests; author must be each new
// request's requester.
func PR(ctx context.Context, repo *gitrepo.Repo, base, head, author string, teams policy.TeamChecker) (*Report, error) {
	baseID, err := repo.Resolve(ctx, base)
	if err != nil {
		return nil, err
	}
	headID, err := repo.Resolve(ctx, head)
	if err != nil {
		return nil, err
	}
	mb, err := repo.Run(ctx, "merge-base", baseID, headID)
	if err != nil {
		return nil, fmt.Errorf("no merge base between %s and %s: %w", base, head, err)
	}
	mergeBase := strings.TrimSpace(string(mb))
	changes, err := repo.Changes(ctx, baseID, headID)
	if err != nil {
		return nil, err
	}
	rep := &Report{Mode: "pr", Base: baseID}
	baseSnap, headSnap := repo.At(baseID), repo.At(headID)
	add := func(path, rule, msg, fix string) {
		rep.Findings = append(rep.Findings, finding.New(path, finding.Pos{Line: 1, Col: 1}, rule, msg, fix))
	}

	var added []gitrepo.Change
	var others []gitrepo.Change
	policyChanged := false
	for _, c := range changes {
		switch {
		case ledger.Owned(c.Path):
			add(c.Path, "state-path", fmt.Sprintf("%s is written only by elevate; a pull request may not change it", c.Path),
				"remove this change from the PR")
		case strings.HasPrefix(c.Path, request.Dir+"/") && c.Status == 'A':
			added = append(added, c)
		case strings.HasPrefix(c.Path, request.Dir+"/"):
			verb := map[byte]string{'M': "edits", 'D': "deletes", 'T': "changes the type of"}[c.Status]
			add(c.Path, "request-immutable", fmt.Sprintf("this PR %s %s, a request that was already merged; merged requests never change", verb, c.Path),
				"leave it as it is; to extend access open a new request with a new id")
		default:
			if strings.HasPrefix(c.Path, policy.Dir+"/") {
				policyChanged = true
			}
			others = append(others, c)
		}
	}
	if len(added) > 0 && len(others) > 0 {
		var ids []string
		for _, c := range added {
			ids = append(ids, c.Path)
		}
		for _, c := range others {
			add(c.Path, "request-pr-mixed",
				fmt.Sprintf("this PR adds %s and also changes %s; a request PR may add request files and nothing else", strings.Join(ids, ", "), c.Path),
				"move this change to its own PR (policies, identities, CODEOWNERS, workflows and code are reviewed on their own)")
		}
	}

	set, pfs, err := policy.Load(ctx, baseSnap)
	if err != nil {
		return nil, err
	}
	rep.Policies = set
	if len(pfs) > 0 && len(added) > 0 {
		for _, f := range pfs {
			f.Message = "on the base branch: " + f.Message
			rep.Findings = append(rep.Findings, f)
		}
	}
	if policyChanged {
		_, hfs, err := policy.Load(ctx, headSnap)
		if err != nil {
			return nil, err
		}
		rep.Findings = append(rep.Findings, hfs...)
	}

	archived := func(id string) (bool, error) {
		for _, p := range []string{ledger.ArchivePath(id), ledger.StatusPath(id)} {
			ok, err := repo.Exists(ctx, baseID, p)
			if err != nil || ok {
				return ok, err
			}
			if ok, err = repo.Exists(ctx, mergeBase, p); err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	}
	results := make([]result, len(added))
	parallel(len(added), func(i int) {
		c := added[i]
		e := gitrepo.SnapshotEntry{Path: c.Path, Kind: gitrepo.ModeKind(c.NewMode)}
		results[i] = checkRequest(ctx, headSnap, e, set, teams, archived)
	})
	for _, r := range results {
		rep.Findings = append(rep.Findings, r.findings...)
		if r.checked == nil {
			continue
		}
		rep.Requests = append(rep.Requests, *r.checked)
		req := r.checked.Request
		if req.Start != nil && req.Start.After(Clock().Add(request.MaxStartAhead)) {
			rep.Findings = append(rep.Findings, finding.New(req.File, req.Pos("start"), "start-too-far",
				fmt.Sprintf("start %s is more than %s from now", request.FormatTime(*req.Start), request.FormatDuration(request.MaxStartAhead)),
				"open the request closer to when you need the access"))
		}
		if author != "" && !strings.EqualFold(req.Requester, author) {
			rep.Findings = append(rep.Findings, finding.New(req.File, req.Pos("requester"), "requester-author",
				fmt.Sprintf("requester is %q but the pull request is by %q; nobody can request access for someone else", req.Requester, author),
				fmt.Sprintf("write `requester: %s`, or let %s open the PR", author, req.Requester)))
		}
	}
	rep.Files = len(changes)
	finding.Sort(rep.Findings)
	sort.Slice(rep.Requests, func(i, j int) bool { return rep.Requests[i].Request.ID < rep.Requests[j].Request.ID })
	return rep, nil
}

// Clock is the time PR mode judges start times against; tests replace it.
var Clock = time.Now

// parallel runs f(0..n-1) on up to GOMAXPROCS goroutines.
func parallel(n int, f func(int)) {
	workers := runtime.GOMAXPROCS(0)
	if n < workers {
		workers = n
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}
