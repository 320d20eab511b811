package githubfake

import (
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"net/url"
	"strings"
	"time"
)

// The response bodies, field for field as GitHub's OpenAPI description
// requires them (server_test.go checks each against testdata/).

const (
	apiBase  = "https://api.github.com"
	htmlBase = "https://github.com"
	repoID   = 424242
)

func nodeID(kind string, id any) string {
	return base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("%s:%v", kind, id)))
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func teamID(org, slug string) int64 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(strings.ToLower(org + "/" + slug)))
	return int64(h.Sum32())
}

// userJSONLocked is a simple-user.
func (s *Server) userJSONLocked(login string) map[string]any {
	u := s.userLocked(login)
	api := apiBase + "/users/" + url.PathEscape(u.login)
	html := htmlBase + "/" + url.PathEscape(u.login)
	if u.typ == "Bot" {
		html = htmlBase + "/apps/" + url.PathEscape(strings.TrimSuffix(u.login, "[bot]"))
	}
	return map[string]any{
		"login":               u.login,
		"id":                  u.id,
		"node_id":             nodeID("User", u.id),
		"avatar_url":          fmt.Sprintf("https://avatars.githubusercontent.com/u/%d?v=4", u.id),
		"gravatar_id":         "",
		"url":                 api,
		"html_url":            html,
		"followers_url":       api + "/followers",
		"following_url":       api + "/following{/other_user}",
		"gists_url":           api + "/gists{/gist_id}",
		"starred_url":         api + "/starred{/owner}{/repo}",
		"subscriptions_url":   api + "/subscriptions",
		"organizations_url":   api + "/orgs",
		"repos_url":           api + "/repos",
		"events_url":          api + "/events{/privacy}",
		"received_events_url": api + "/received_events",
		"type":                u.typ,
		"user_view_type":      "public",
		"site_admin":          false,
	}
}

// nullableUserJSONLocked is a nullable-simple-user: null for an empty login.
func (s *Server) nullableUserJSONLocked(login string) any {
	if login == "" {
		return nil
	}
	return s.userJSONLocked(login)
}

// repoJSONLocked is a repository.
func (s *Server) repoJSONLocked() map[string]any {
	full := s.owner + "/" + s.repo
	api := apiBase + "/repos/" + full
	html := htmlBase + "/" + full
	created := stamp(Epoch.Add(-365 * 24 * time.Hour))
	return map[string]any{
		"id":                          repoID,
		"node_id":                     nodeID("Repository", repoID),
		"name":                        s.repo,
		"full_name":                   full,
		"license":                     nil,
		"forks":                       0,
		"owner":                       s.userJSONLocked(s.owner),
		"private":                     true,
		"html_url":                    html,
		"description":                 "Just-in-time access requests",
		"fork":                        false,
		"url":                         api,
		"archive_url":                 api + "/{archive_format}{/ref}",
		"assignees_url":               api + "/assignees{/user}",
		"blobs_url":                   api + "/git/blobs{/sha}",
		"branches_url":                api + "/branches{/branch}",
		"collaborators_url":           api + "/collaborators{/collaborator}",
		"comments_url":                api + "/comments{/number}",
		"commits_url":                 api + "/commits{/sha}",
		"compare_url":                 api + "/compare/{base}...{head}",
		"contents_url":                api + "/contents/{+path}",
		"contributors_url":            api + "/contributors",
		"deployments_url":             api + "/deployments",
		"downloads_url":               api + "/downloads",
		"events_url":                  api + "/events",
		"forks_url":                   api + "/forks",
		"git_commits_url":             api + "/git/commits{/sha}",
		"git_refs_url":                api + "/git/refs{/sha}",
		"git_tags_url":                api + "/git/tags{/sha}",
		"git_url":                     "git://github.com/" + full + ".git",
		"issue_comment_url":           api + "/issues/comments{/number}",
		"issue_events_url":            api + "/issues/events{/number}",
		"issues_url":                  api + "/issues{/number}",
		"keys_url":                    api + "/keys{/key_id}",
		"labels_url":                  api + "/labels{/name}",
		"languages_url":               api + "/languages",
		"merges_url":                  api + "/merges",
		"milestones_url":              api + "/milestones{/number}",
		"notifications_url":           api + "/notifications{?since,all,participating}",
		"pulls_url":                   api + "/pulls{/number}",
		"releases_url":                api + "/releases{/id}",
		"ssh_url":                     "git@github.com:" + full + ".git",
		"stargazers_url":              api + "/stargazers",
		"statuses_url":                api + "/statuses/{sha}",
		"subscribers_url":             api + "/subscribers",
		"subscription_url":            api + "/subscription",
		"tags_url":                    api + "/tags",
		"teams_url":                   api + "/teams",
		"trees_url":                   api + "/git/trees{/sha}",
		"clone_url":                   html + ".git",
		"mirror_url":                  nil,
		"hooks_url":                   api + "/hooks",
		"svn_url":                     html,
		"homepage":                    nil,
		"language":                    "Go",
		"forks_count":                 0,
		"stargazers_count":            0,
		"watchers_count":              0,
		"size":                        128,
		"default_branch":              "main",
		"open_issues_count":           0,
		"is_template":                 false,
		"topics":                      []string{},
		"has_issues":                  true,
		"has_projects":                false,
		"has_wiki":                    false,
		"has_pages":                   false,
		"has_downloads":               true,
		"has_discussions":             false,
		"archived":                    false,
		"disabled":                    false,
		"visibility":                  "private",
		"pushed_at":                   stamp(s.clock),
		"created_at":                  created,
		"updated_at":                  created,
		"allow_forking":               false,
		"open_issues":                 0,
		"watchers":                    0,
		"web_commit_signoff_required": false,
	}
}

func link(href string) map[string]any { return map[string]any{"href": href} }

// pullJSONLocked is a pull-request (full) or a pull-request-simple (as the
// list endpoints serve it: no merged, merged_by, counts or mergeability).
func (s *Server) pullJSONLocked(p *pullRequest, full bool) map[string]any {
	api := fmt.Sprintf("%s/repos/%s/%s", apiBase, s.owner, s.repo)
	html := fmt.Sprintf("%s/%s/%s", htmlBase, s.owner, s.repo)
	n := p.Number
	self := fmt.Sprintf("%s/pulls/%d", api, n)
	issue := fmt.Sprintf("%s/issues/%d", api, n)
	id := int64(700000 + n)
	var closedAt, mergedAt, mergeSHA any
	updated := p.created
	if p.State == "closed" {
		t := p.created.Add(time.Minute)
		if p.Merged {
			t = p.merged
		}
		closedAt = stamp(t)
		updated = t
	}
	if p.Merged {
		mergedAt = stamp(p.merged)
	}
	if p.MergeCommitSHA != "" {
		mergeSHA = p.MergeCommitSHA
	}
	repo := s.repoJSONLocked()
	side := func(ref, sha string) map[string]any {
		return map[string]any{
			"label": s.owner + ":" + ref,
			"ref":   ref,
			"sha":   sha,
			"repo":  repo,
			"user":  s.userJSONLocked(s.owner),
		}
	}
	var author any = s.userJSONLocked(p.Author)
	if p.Author == "" {
		author = nil
	}
	m := map[string]any{
		"url":                 self,
		"id":                  id,
		"node_id":             nodeID("PullRequest", id),
		"html_url":            fmt.Sprintf("%s/pull/%d", html, n),
		"diff_url":            fmt.Sprintf("%s/pull/%d.diff", html, n),
		"patch_url":           fmt.Sprintf("%s/pull/%d.patch", html, n),
		"issue_url":           issue,
		"commits_url":         self + "/commits",
		"review_comments_url": self + "/comments",
		"review_comment_url":  api + "/pulls/comments{/number}",
		"comments_url":        issue + "/comments",
		"statuses_url":        fmt.Sprintf("%s/statuses/%s", api, p.HeadSHA),
		"number":              n,
		"state":               p.State,
		"locked":              false,
		"title":               p.Title,
		"user":                author,
		"body":                nilIfEmpty(p.Body),
		"labels":              []any{},
		"milestone":           nil,
		"active_lock_reason":  nil,
		"created_at":          stamp(p.created),
		"updated_at":          stamp(updated),
		"closed_at":           closedAt,
		"merged_at":           mergedAt,
		"merge_commit_sha":    mergeSHA,
		"assignee":            nil,
		"assignees":           []any{},
		"requested_reviewers": []any{},
		"requested_teams":     []any{},
		"head":                side(p.HeadRef, p.HeadSHA),
		"base":                side(p.BaseRef, p.BaseSHA),
		"_links": map[string]any{
			"self":            link(self),
			"html":            link(fmt.Sprintf("%s/pull/%d", html, n)),
			"issue":           link(issue),
			"comments":        link(issue + "/comments"),
			"review_comments": link(self + "/comments"),
			"review_comment":  link(api + "/pulls/comments{/number}"),
			"commits":         link(self + "/commits"),
			"statuses":        link(fmt.Sprintf("%s/statuses/%s", api, p.HeadSHA)),
		},
		"author_association": "MEMBER",
		"auto_merge":         nil,
		"draft":              false,
	}
	if !full {
		return m
	}
	additions, deletions := 0, 0
	for _, f := range p.Files {
		additions += f.Additions
		deletions += f.Deletions
	}
	m["merged"] = p.Merged
	m["mergeable"] = nil
	m["rebaseable"] = nil
	m["mergeable_state"] = "unknown"
	m["merged_by"] = s.nullableUserJSONLocked(p.MergedBy)
	m["comments"] = s.commentCountLocked(n)
	m["review_comments"] = 0
	m["maintainer_can_modify"] = false
	m["commits"] = len(p.Commits)
	m["additions"] = additions
	m["deletions"] = deletions
	m["changed_files"] = len(p.Files)
	return m
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Server) commentCountLocked(n int) int {
	c := 0
	for _, x := range s.comments {
		if x.Issue == n {
			c++
		}
	}
	return c
}

// reviewJSONLocked is a pull-request-review.
func (s *Server) reviewJSONLocked(p *pullRequest, r storedReview) map[string]any {
	pull := fmt.Sprintf("%s/repos/%s/%s/pulls/%d", apiBase, s.owner, s.repo, p.Number)
	html := fmt.Sprintf("%s/%s/%s/pull/%d#pullrequestreview-%d", htmlBase, s.owner, s.repo, p.Number, r.id)
	m := map[string]any{
		"id":                 r.id,
		"node_id":            nodeID("PullRequestReview", r.id),
		"user":               s.nullableUserJSONLocked(r.User),
		"body":               r.Body,
		"state":              r.State,
		"html_url":           html,
		"pull_request_url":   pull,
		"_links":             map[string]any{"html": link(html), "pull_request": link(pull)},
		"commit_id":          nilIfEmpty(r.CommitID),
		"author_association": "MEMBER",
	}
	if !r.SubmittedAt.IsZero() {
		m["submitted_at"] = stamp(r.SubmittedAt)
	}
	return m
}

// commitJSONLocked is a commit as the PR commits endpoint lists it.
func (s *Server) commitJSONLocked(c Commit, parent string) map[string]any {
	api := fmt.Sprintf("%s/repos/%s/%s", apiBase, s.owner, s.repo)
	html := fmt.Sprintf("%s/%s/%s", htmlBase, s.owner, s.repo)
	gitUser := func(login string) map[string]any {
		name := login
		if name == "" {
			name = "Unlinked Person"
		}
		return map[string]any{
			"name":  name,
			"email": strings.ToLower(strings.NewReplacer("[", "", "]", "").Replace(name)) + "@users.noreply.github.com",
			"date":  stamp(s.clock),
		}
	}
	msg := c.Message
	if msg == "" {
		msg = "Change " + short(c.SHA)
	}
	parents := []any{}
	if parent != "" {
		parents = append(parents, map[string]any{
			"sha":      parent,
			"url":      api + "/commits/" + parent,
			"html_url": html + "/commit/" + parent,
		})
	}
	return map[string]any{
		"url":          api + "/commits/" + c.SHA,
		"sha":          c.SHA,
		"node_id":      nodeID("Commit", c.SHA),
		"html_url":     html + "/commit/" + c.SHA,
		"comments_url": api + "/commits/" + c.SHA + "/comments",
		"commit": map[string]any{
			"url":           api + "/git/commits/" + c.SHA,
			"author":        gitUser(c.AuthorLogin),
			"committer":     gitUser(c.CommitterLogin),
			"message":       msg,
			"comment_count": 0,
			"tree":          map[string]any{"sha": c.SHA, "url": api + "/git/trees/" + c.SHA},
			"verification": map[string]any{
				"verified":    false,
				"reason":      "unsigned",
				"payload":     nil,
				"signature":   nil,
				"verified_at": nil,
			},
		},
		"author":    s.nullableUserJSONLocked(c.AuthorLogin),
		"committer": s.nullableUserJSONLocked(c.CommitterLogin),
		"parents":   parents,
	}
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// fileJSONLocked is a diff-entry.
func (s *Server) fileJSONLocked(p *pullRequest, f File) map[string]any {
	status := f.Status
	if status == "" {
		status = "modified"
	}
	path := (&url.URL{Path: f.Name}).EscapedPath()
	m := map[string]any{
		"sha":          nilIfEmpty(f.SHA),
		"filename":     f.Name,
		"status":       status,
		"additions":    f.Additions,
		"deletions":    f.Deletions,
		"changes":      f.Additions + f.Deletions,
		"blob_url":     fmt.Sprintf("%s/%s/%s/blob/%s/%s", htmlBase, s.owner, s.repo, p.HeadSHA, path),
		"raw_url":      fmt.Sprintf("%s/%s/%s/raw/%s/%s", htmlBase, s.owner, s.repo, p.HeadSHA, path),
		"contents_url": fmt.Sprintf("%s/repos/%s/%s/contents/%s?ref=%s", apiBase, s.owner, s.repo, path, p.HeadSHA),
	}
	if f.PreviousName != "" {
		m["previous_filename"] = f.PreviousName
	}
	return m
}

// commentJSONLocked is an issue-comment.
func (s *Server) commentJSONLocked(c *Comment) map[string]any {
	api := fmt.Sprintf("%s/repos/%s/%s", apiBase, s.owner, s.repo)
	return map[string]any{
		"id":                 c.ID,
		"node_id":            nodeID("IssueComment", c.ID),
		"url":                fmt.Sprintf("%s/issues/comments/%d", api, c.ID),
		"html_url":           fmt.Sprintf("%s/%s/%s/pull/%d#issuecomment-%d", htmlBase, s.owner, s.repo, c.Issue, c.ID),
		"body":               c.Body,
		"user":               s.nullableUserJSONLocked(c.User),
		"created_at":         stamp(c.CreatedAt),
		"updated_at":         stamp(c.UpdatedAt),
		"issue_url":          fmt.Sprintf("%s/issues/%d", api, c.Issue),
		"author_association": "NONE",
	}
}
