package githubfake

import "time"

// PR describes a pull request the fake serves. Zero fields get defaults
// when the PR is added: BaseRef "main", HeadRef "request-<number>", Title
// "PR <number>", State "closed" when Merged and "open" otherwise.
type PR struct {
	Number int
	Title  string
	Body   string
	// Author is the login of the user who opened the pull request.
	Author  string
	HeadRef string
	HeadSHA string
	BaseRef string
	BaseSHA string
	// State is "open" or "closed".
	State string
	// Merged marks the PR merged: it is then closed, merged_at is set and
	// MergedBy and MergeCommitSHA are served.
	Merged         bool
	MergedBy       string
	MergeCommitSHA string
	// Commits are the PR's commits, oldest first. The commits endpoint serves
	// at most 250 of them, as GitHub does; the PR's "commits" count is
	// len(Commits).
	Commits []Commit
	// Files are the PR's changed files. The files endpoint serves at most
	// 3000 of them, as GitHub does; the PR's "changed_files" is len(Files).
	Files []File
}

// Commit is one commit of a PR.
type Commit struct {
	SHA string
	// AuthorLogin and CommitterLogin are the GitHub users the commit's
	// author and committer e-mails are linked to; empty serves null (an
	// e-mail that belongs to no account).
	AuthorLogin    string
	CommitterLogin string
	Message        string
}

// File is one changed file of a PR, as the files endpoint lists it.
type File struct {
	Name string
	// Status is one of added, removed, modified, renamed, copied, changed,
	// unchanged; empty means modified.
	Status string
	// SHA is the blob SHA; empty serves null.
	SHA          string
	PreviousName string
	Additions    int
	Deletions    int
}

// Review is one pull request review.
type Review struct {
	// User is the reviewer's login; empty serves "user": null, which GitHub
	// sends for reviews by deleted accounts.
	User string
	// UserType is "User" or "Bot"; empty means "Bot" for logins ending in
	// "[bot]" and "User" otherwise. It sets the type of the user everywhere.
	UserType string
	// State is APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED or PENDING.
	State string
	// CommitID is the commit the review was made on; empty means the PR's
	// head SHA when the review is added.
	CommitID string
	Body     string
	// SubmittedAt defaults to the fake's clock; PENDING reviews have none.
	SubmittedAt time.Time
}

// Comment is an issue (PR conversation) comment stored by the fake.
type Comment struct {
	ID        int64
	Issue     int
	User      string
	Body      string
	CreatedAt time.Time
	UpdatedAt time.Time
}
