package ledger

import (
	"context"
	"fmt"
	"strings"
)

// Removal is an assignment elevate removed from AWS because no open request
// explained it (drift) and the policy that applies says removeUnexplained.
type Removal struct {
	// UserName is the Identity Center user name; empty for a user no longer
	// in the Identity Store, who is named by UserID.
	UserName, UserID string
	Account          string
	PermissionSet    string
	// Policy is the policy that asked for the removal.
	Policy string
	Reason string
}

// Trailer keys of a removal commit (besides Account, Permission-Set,
// Policy, Reason and Elevate-State).
const (
	TrailerUser   = "User"
	TrailerUserID = "User-Id"
)

// ActionRemoveUnexplained is the Action trailer of a removal commit.
const ActionRemoveUnexplained = "remove-unexplained"

// RemovalMessage is the commit message of a removal: no request is
// involved, so there is no Request trailer.
func RemovalMessage(r Removal) string {
	who := r.UserName
	if who == "" {
		who = "user id " + r.UserID
	}
	var b strings.Builder
	b.WriteString(oneLine(fmt.Sprintf("elevate: %s %s on %s for %s", ActionRemoveUnexplained, r.PermissionSet, r.Account, who), 200))
	b.WriteString("\n\n")
	if r.Reason != "" {
		b.WriteString(oneLine(r.Reason, 2000))
		b.WriteString("\n\n")
	}
	t := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, oneLine(v, 1000))
		}
	}
	t(TrailerAction, ActionRemoveUnexplained)
	t(TrailerUser, r.UserName)
	t(TrailerUserID, r.UserID)
	t(TrailerAccount, r.Account)
	t(TrailerSet, r.PermissionSet)
	t(TrailerPolicy, r.Policy)
	t(TrailerReason, r.Reason)
	t(TrailerStateCommit, "v1")
	return b.String()
}

// RecordRemoval commits a removal as an empty commit: the files do not
// change, the history records what elevate did in AWS. It is a Batch of
// one.
func (l *Ledger) RecordRemoval(ctx context.Context, r Removal) (string, error) {
	b := l.Begin()
	b.RecordRemoval(r)
	shas, err := b.Commit(ctx)
	if err != nil {
		return "", fmt.Errorf("record the removal of %s on %s: %w", r.PermissionSet, r.Account, err)
	}
	return shas[0], nil
}
