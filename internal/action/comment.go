package action

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-github/v62/github"
)

// Comments is the part of go-github's IssuesService the Action uses to keep
// its PR comment; *github.IssuesService satisfies it.
type Comments interface {
	ListComments(ctx context.Context, owner, repo string, number int, opts *github.IssueListCommentsOptions) ([]*github.IssueComment, *github.Response, error)
	CreateComment(ctx context.Context, owner, repo string, number int, comment *github.IssueComment) (*github.IssueComment, *github.Response, error)
	EditComment(ctx context.Context, owner, repo string, commentID int64, comment *github.IssueComment) (*github.IssueComment, *github.Response, error)
}

// maxCommentPages bounds the comment pages read (100 comments each). A PR
// with more comments than that gets no summary comment rather than a
// duplicate one.
const maxCommentPages = 50

// CommentResult says what UpsertComment did.
type CommentResult struct {
	ID int64
	// Action is "created", "updated", "unchanged" or "none".
	Action string
}

// UpsertComment keeps one elevate comment on PR number: it edits the
// first comment that is elevate's (a bot's comment starting with Marker),
// or creates it when there is none and create is true. body must start
// with Marker. Every page of comments is read before creating, so a second
// comment is never added.
func UpsertComment(ctx context.Context, c Comments, owner, repo string, number int, body string, create bool) (CommentResult, error) {
	if !strings.HasPrefix(body, Marker) {
		return CommentResult{}, fmt.Errorf("comment body does not start with %s", Marker)
	}
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	var ours *github.IssueComment
	for page := 0; ours == nil; page++ {
		if page == maxCommentPages {
			return CommentResult{}, fmt.Errorf("PR #%d has more than %d comments; not looking further", number, maxCommentPages*100)
		}
		list, resp, err := c.ListComments(ctx, owner, repo, number, opts)
		if err != nil {
			return CommentResult{}, fmt.Errorf("list comments of PR #%d: %w", number, err)
		}
		for _, cm := range list {
			if isOurs(cm) {
				ours = cm
				break
			}
		}
		if resp == nil || resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if ours == nil {
		if !create {
			return CommentResult{Action: "none"}, nil
		}
		cm, _, err := c.CreateComment(ctx, owner, repo, number, &github.IssueComment{Body: github.String(body)})
		if err != nil {
			return CommentResult{}, fmt.Errorf("create the summary comment on PR #%d: %w", number, err)
		}
		return CommentResult{ID: cm.GetID(), Action: "created"}, nil
	}
	if ours.GetBody() == body {
		return CommentResult{ID: ours.GetID(), Action: "unchanged"}, nil
	}
	cm, _, err := c.EditComment(ctx, owner, repo, ours.GetID(), &github.IssueComment{Body: github.String(body)})
	if err != nil {
		return CommentResult{}, fmt.Errorf("update the summary comment %d on PR #%d: %w", ours.GetID(), number, err)
	}
	return CommentResult{ID: cm.GetID(), Action: "updated"}, nil
}

// isOurs reports whether a comment is elevate's summary. A person cannot
// post as a bot, so a comment someone wrote to look like it is never
// edited.
func isOurs(c *github.IssueComment) bool {
	return strings.HasPrefix(c.GetBody(), Marker) && c.GetUser().GetType() == "Bot"
}
