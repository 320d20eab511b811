package identitycenter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin/types"
)

// Operation names in FailedError and TimeoutError.
const (
	OpCreate = "create"
	OpDelete = "delete"
)

// Grant makes the assignment exist. If it already exists nothing is
// created. It returns once AWS reports the creation SUCCEEDED; a
// *FailedError if AWS reports it FAILED; a *TimeoutError if it is still
// IN_PROGRESS after MaxPolls checks.
func (b *Backend) Grant(ctx context.Context, a Assignment) error {
	if err := b.change(ctx, a, true); err != nil {
		return fmt.Errorf("grant %s: %w", a, err)
	}
	return nil
}

// Revoke makes the assignment not exist. If it does not exist nothing is
// deleted. Sessions already issued outlive it until their SessionDuration
// ends. Errors are as for Grant; a user no longer in the Identity Store
// gives a *UserNotFoundError, though an assignment of that user may remain
// (List reports it by UserID).
func (b *Backend) Revoke(ctx context.Context, a Assignment) error {
	if err := b.change(ctx, a, false); err != nil {
		return fmt.Errorf("revoke %s: %w", a, err)
	}
	return nil
}

// Exists reports whether the assignment exists, as AWS listed it when this
// Backend first looked at the account and permission set, updated by the
// Backend's own grants and revokes since.
func (b *Backend) Exists(ctx context.Context, a Assignment) (bool, error) {
	r, err := b.resolve(ctx, a)
	if err != nil {
		return false, fmt.Errorf("check %s: %w", a, err)
	}
	h, err := b.holdersOf(ctx, r.instance, r.setKey())
	if err != nil {
		return false, fmt.Errorf("check %s: %w", a, err)
	}
	return h.has(r.userID), nil
}

func (b *Backend) change(ctx context.Context, a Assignment, want bool) error {
	r, err := b.resolve(ctx, a)
	if err != nil {
		return err
	}
	// AWS refuses a second operation on a tuple while one runs, and moto
	// would record a duplicate: one operation per tuple at a time.
	unlock, err := b.tuples.lock(ctx, r.tuple())
	if err != nil {
		return err
	}
	defer unlock()

	h, err := b.holdersOf(ctx, r.instance, r.setKey())
	if err != nil {
		return err
	}
	if h.has(r.userID) == want {
		return nil
	}
	if want {
		err = b.create(ctx, r)
	} else {
		err = b.delete(ctx, r)
	}
	var failed *FailedError
	switch {
	case err == nil:
		h.set(r.userID, want)
	case errors.As(err, &failed):
		// AWS says the change did not happen: the cache is still right.
	default:
		// The change may or may not have happened: look again next time.
		b.assigned.forget(r.setKey())
	}
	return err
}

func (b *Backend) create(ctx context.Context, r resolved) error {
	release, err := b.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	out, err := call(ctx, b, b.sso.CreateAccountAssignment, &ssoadmin.CreateAccountAssignmentInput{
		InstanceArn:      aws.String(r.instance.arn),
		PermissionSetArn: aws.String(r.set.arn),
		PrincipalId:      aws.String(r.userID),
		PrincipalType:    types.PrincipalTypeUser,
		TargetId:         aws.String(r.AccountID),
		TargetType:       types.TargetTypeAwsAccount,
	})
	if err != nil {
		return fmt.Errorf("create assignment: %w", err)
	}
	return b.await(ctx, OpCreate, out.AccountAssignmentCreationStatus, func(ctx context.Context, id *string) (*types.AccountAssignmentOperationStatus, error) {
		out, err := call(ctx, b, b.sso.DescribeAccountAssignmentCreationStatus, &ssoadmin.DescribeAccountAssignmentCreationStatusInput{
			InstanceArn:                        aws.String(r.instance.arn),
			AccountAssignmentCreationRequestId: id,
		})
		if err != nil {
			return nil, err
		}
		return out.AccountAssignmentCreationStatus, nil
	})
}

func (b *Backend) delete(ctx context.Context, r resolved) error {
	release, err := b.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	out, err := call(ctx, b, b.sso.DeleteAccountAssignment, &ssoadmin.DeleteAccountAssignmentInput{
		InstanceArn:      aws.String(r.instance.arn),
		PermissionSetArn: aws.String(r.set.arn),
		PrincipalId:      aws.String(r.userID),
		PrincipalType:    types.PrincipalTypeUser,
		TargetId:         aws.String(r.AccountID),
		TargetType:       types.TargetTypeAwsAccount,
	})
	if errorCode(err) == codeResourceNotFound {
		// Someone else removed it since we listed: look again.
		b.assigned.forget(r.setKey())
		h, lerr := b.holdersOf(ctx, r.instance, r.setKey())
		if lerr == nil && !h.has(r.userID) {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("delete assignment: %w", err)
	}
	return b.await(ctx, OpDelete, out.AccountAssignmentDeletionStatus, func(ctx context.Context, id *string) (*types.AccountAssignmentOperationStatus, error) {
		out, err := call(ctx, b, b.sso.DescribeAccountAssignmentDeletionStatus, &ssoadmin.DescribeAccountAssignmentDeletionStatusInput{
			InstanceArn:                        aws.String(r.instance.arn),
			AccountAssignmentDeletionRequestId: id,
		})
		if err != nil {
			return nil, err
		}
		return out.AccountAssignmentDeletionStatus, nil
	})
}

// await checks an asynchronous operation's status every PollInterval until
// it ends, at most MaxPolls times.
func (b *Backend) await(ctx context.Context, op string, st *types.AccountAssignmentOperationStatus,
	describe func(context.Context, *string) (*types.AccountAssignmentOperationStatus, error)) error {
	if st == nil {
		return fmt.Errorf("%s assignment: AWS returned no status", op)
	}
	id := st.RequestId
	for polls := 0; ; polls++ {
		switch st.Status {
		case types.StatusValuesSucceeded:
			return nil
		case types.StatusValuesFailed:
			return &FailedError{Op: op, RequestID: aws.ToString(id), Reason: aws.ToString(st.FailureReason)}
		}
		if aws.ToString(id) == "" {
			return fmt.Errorf("%s assignment: status %q without a request id", op, st.Status)
		}
		if polls >= b.opts.MaxPolls {
			return &TimeoutError{Op: op, RequestID: aws.ToString(id), Polls: polls}
		}
		if err := b.opts.Sleep(ctx, b.opts.PollInterval); err != nil {
			return fmt.Errorf("%s assignment: wait for request %s: %w", op, aws.ToString(id), err)
		}
		next, err := describe(ctx, id)
		if err != nil {
			return fmt.Errorf("%s assignment: check request %s: %w", op, aws.ToString(id), err)
		}
		if next == nil {
			return fmt.Errorf("%s assignment: check request %s: AWS returned no status", op, aws.ToString(id))
		}
		st = next
	}
}

// List returns the USER assignments of the named permission sets on the
// given accounts, sorted by account, permission set and user name, with
// UserID set (and UserName empty for a user no longer in the Identity
// Store). Group assignments are not reported. It answers from the same
// cache as Exists.
func (b *Backend) List(ctx context.Context, permissionSets []string, accounts []string) ([]Assignment, error) {
	var errs []error
	for _, id := range accounts {
		errs = append(errs, validateAccountID(id))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("list assignments: %w", err)
	}
	inst, err := b.discover(ctx)
	if err != nil {
		return nil, fmt.Errorf("list assignments: %w", err)
	}
	var out []Assignment
	for _, name := range permissionSets {
		set, err := b.permissionSet(ctx, inst, name)
		if err != nil {
			return nil, fmt.Errorf("list assignments: %w", err)
		}
		for _, account := range accounts {
			h, err := b.holdersOf(ctx, inst, setKey{accountID: account, permissionSetARN: set.arn})
			if err != nil {
				return nil, fmt.Errorf("list assignments: %w", err)
			}
			for _, id := range h.ids() {
				user, err := b.userName(ctx, inst, id)
				if err != nil {
					return nil, fmt.Errorf("list assignments: %w", err)
				}
				out = append(out, Assignment{UserName: user, PermissionSet: name, AccountID: account, UserID: id})
			}
		}
	}
	slices.SortFunc(out, func(x, y Assignment) int {
		return cmp.Or(
			cmp.Compare(x.AccountID, y.AccountID),
			cmp.Compare(x.PermissionSet, y.PermissionSet),
			cmp.Compare(x.UserName, y.UserName),
			cmp.Compare(x.UserID, y.UserID),
		)
	})
	return out, nil
}

// SessionDuration is how long sessions of the named permission set last
// (AWS's default, 1h, if the set has none). Revoking an assignment does not
// end sessions already issued: they last this long.
func (b *Backend) SessionDuration(ctx context.Context, permissionSet string) (time.Duration, error) {
	inst, err := b.discover(ctx)
	if err != nil {
		return 0, fmt.Errorf("session duration of %q: %w", permissionSet, err)
	}
	set, err := b.permissionSet(ctx, inst, permissionSet)
	if err != nil {
		return 0, fmt.Errorf("session duration of %q: %w", permissionSet, err)
	}
	if set.sessionDuration == "" {
		return time.Hour, nil
	}
	d, err := parseDuration(set.sessionDuration)
	if err != nil {
		return 0, fmt.Errorf("session duration of %q: %w", permissionSet, err)
	}
	return d, nil
}
