package action

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
)

// maxEvent bounds the event payload read from GITHUB_EVENT_PATH; GitHub's
// webhook payloads are capped at 25 MB.
const maxEvent = 25 << 20

// Event is what elevate needs from the event that started the workflow.
type Event struct {
	// PullRequest is set for pull_request and pull_request_review events.
	PullRequest *PullRequest
	// Before and After are the commits a push moved the branch between.
	Before, After string
}

// PullRequest is the pull request of an event.
type PullRequest struct {
	Number int
	// Author is the login of the user who opened the PR: the requester.
	Author string
	// BaseSHA is the base branch's commit the PR is checked against;
	// HeadSHA is the PR's head commit.
	BaseSHA, HeadSHA string
	// BaseRef is the branch the PR would merge into.
	BaseRef string
}

var shaRE = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)

// ParseEvent reads an event payload. Fields elevate relies on are checked:
// commit ids are full hex object ids, the PR number is positive and the
// author is set, so a damaged payload fails with a message instead of
// checking the wrong commits.
func ParseEvent(data []byte) (*Event, error) {
	var raw struct {
		PullRequest *struct {
			Number int `json:"number"`
			User   *struct {
				Login string `json:"login"`
			} `json:"user"`
			Base struct {
				SHA string `json:"sha"`
				Ref string `json:"ref"`
			} `json:"base"`
			Head struct {
				SHA string `json:"sha"`
			} `json:"head"`
		} `json:"pull_request"`
		Before string `json:"before"`
		After  string `json:"after"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("event payload is not JSON: %w", err)
	}
	ev := &Event{}
	if shaRE.MatchString(raw.Before) && shaRE.MatchString(raw.After) {
		ev.Before, ev.After = raw.Before, raw.After
	}
	p := raw.PullRequest
	if p == nil {
		return ev, nil
	}
	var errs []error
	if p.Number <= 0 {
		errs = append(errs, fmt.Errorf("pull_request.number is %d", p.Number))
	}
	if p.User == nil || p.User.Login == "" {
		errs = append(errs, errors.New("pull_request.user.login is missing"))
	} else if err := SafeValue(p.User.Login); err != nil {
		errs = append(errs, fmt.Errorf("pull_request.user.login: %w", err))
	}
	if !shaRE.MatchString(p.Base.SHA) {
		errs = append(errs, fmt.Errorf("pull_request.base.sha %q is not a commit id", p.Base.SHA))
	}
	if !shaRE.MatchString(p.Head.SHA) {
		errs = append(errs, fmt.Errorf("pull_request.head.sha %q is not a commit id", p.Head.SHA))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("event payload: %w", err)
	}
	ev.PullRequest = &PullRequest{Number: p.Number, Author: p.User.Login, BaseSHA: p.Base.SHA, HeadSHA: p.Head.SHA, BaseRef: p.Base.Ref}
	return ev, nil
}

// readEvent reads and parses the payload at path; no path is an empty event.
func readEvent(path string) (*Event, error) {
	if path == "" {
		return &Event{}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read the event payload (GITHUB_EVENT_PATH): %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxEvent+1))
	if err != nil {
		return nil, fmt.Errorf("read the event payload (GITHUB_EVENT_PATH): %w", err)
	}
	if len(data) > maxEvent {
		return nil, fmt.Errorf("event payload %s is larger than %d bytes", path, maxEvent)
	}
	return ParseEvent(data)
}
