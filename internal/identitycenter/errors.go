package identitycenter

import (
	"errors"
	"fmt"
)

// ErrInvalidAssignment is wrapped by the errors for an Assignment with an
// empty user name or permission set, or an account id that is not 12
// digits. It is permanent.
var ErrInvalidAssignment = errors.New("invalid assignment")

// UserNotFoundError is returned when the Identity Store has no user with
// that userName. It is permanent.
type UserNotFoundError struct {
	UserName string
}

// Error names the missing user.
func (e *UserNotFoundError) Error() string {
	return fmt.Sprintf("user %q not found in the Identity Store", e.UserName)
}

// PermissionSetNotFoundError is returned when the instance has no
// permission set with that name. It is permanent.
type PermissionSetNotFoundError struct {
	Name string
}

// Error names the missing permission set.
func (e *PermissionSetNotFoundError) Error() string {
	return fmt.Sprintf("permission set %q not found in the Identity Center instance", e.Name)
}

// FailedError is returned when AWS reports an assignment operation FAILED.
// Reason is AWS's FailureReason. It is transient: the cause (for example
// the account's IAM role quota) may be fixed before the next run.
type FailedError struct {
	// Op is "create" or "delete".
	Op string
	// RequestID is AWS's id of the operation.
	RequestID string
	// Reason is AWS's FailureReason.
	Reason string
}

// Error gives the operation, its request id and AWS's reason.
func (e *FailedError) Error() string {
	return fmt.Sprintf("%s assignment request %s failed: %s", e.Op, e.RequestID, e.Reason)
}

// TimeoutError is returned when an assignment operation is still
// IN_PROGRESS after Options.MaxPolls status checks. The operation may still
// end either way; it is transient.
type TimeoutError struct {
	// Op is "create" or "delete".
	Op string
	// RequestID is AWS's id of the operation.
	RequestID string
	// Polls is how many status checks were made.
	Polls int
}

// Error gives the operation, its request id and the checks made.
func (e *TimeoutError) Error() string {
	return fmt.Sprintf("%s assignment request %s still IN_PROGRESS after %d status checks", e.Op, e.RequestID, e.Polls)
}

// IsPermanent reports whether err says the assignment itself cannot be
// made (unknown user, unknown permission set, invalid assignment), so
// retrying in a later run will not help. Any other error is transient. For
// Revoke a permanent error means the assignment could not be found by name,
// not that it is gone.
func IsPermanent(err error) bool {
	var user *UserNotFoundError
	var set *PermissionSetNotFoundError
	return errors.As(err, &user) || errors.As(err, &set) || errors.Is(err, ErrInvalidAssignment)
}

const (
	codeConflict         = "ConflictException"
	codeResourceNotFound = "ResourceNotFoundException"
)

// errorCode is the AWS error code in err, or "".
func errorCode(err error) string {
	var apiErr interface{ ErrorCode() string }
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}
