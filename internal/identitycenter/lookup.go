package identitycenter

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	"github.com/aws/aws-sdk-go-v2/service/identitystore/document"
	idtypes "github.com/aws/aws-sdk-go-v2/service/identitystore/types"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin/types"
)

// instance is the account's Identity Center instance.
type instance struct {
	arn             string
	identityStoreID string
}

// permissionSet is what the backend needs of a permission set.
type permissionSet struct {
	arn             string
	name            string
	sessionDuration string // ISO-8601, "" if unset
}

// catalog is the instance's permission sets, described lazily: a lookup
// describes sets only until it finds the name it wants.
type catalog struct {
	listed    bool
	undecided []string // ARNs listed but not yet described
	byName    map[string]permissionSet
}

// setKey names one permission set on one account: the unit ListAccountAssignments
// answers for, and so the unit of the assignment cache.
type setKey struct {
	accountID        string
	permissionSetARN string
}

// tuple is one resolved assignment: the unit AWS refuses to run two
// operations on at once, and so the unit Grant and Revoke serialize on.
type tuple struct {
	setKey
	userID string
}

// resolved is an Assignment with the ids AWS needs.
type resolved struct {
	Assignment
	instance instance
	userID   string
	set      permissionSet
}

func (r resolved) setKey() setKey {
	return setKey{accountID: r.AccountID, permissionSetARN: r.set.arn}
}

func (r resolved) tuple() tuple { return tuple{setKey: r.setKey(), userID: r.userID} }

func (b *Backend) resolve(ctx context.Context, a Assignment) (resolved, error) {
	if err := a.validate(); err != nil {
		return resolved{}, err
	}
	inst, err := b.discover(ctx)
	if err != nil {
		return resolved{}, err
	}
	set, err := b.permissionSet(ctx, inst, a.PermissionSet)
	if err != nil {
		return resolved{}, err
	}
	userID := a.UserID
	if a.UserName != "" {
		if userID, err = b.userID(ctx, inst, a.UserName); err != nil {
			return resolved{}, err
		}
	}
	return resolved{Assignment: a, instance: inst, userID: userID, set: set}, nil
}

// discover finds the one Identity Center instance.
func (b *Backend) discover(ctx context.Context) (instance, error) {
	return b.instance.get(ctx, struct{}{}, func(ctx context.Context) (instance, error) {
		var found []types.InstanceMetadata
		in := &ssoadmin.ListInstancesInput{}
		err := b.paginate("list Identity Center instances", func(token *string) (*string, error) {
			in.NextToken = token
			out, err := call(ctx, b, b.sso.ListInstances, in)
			if err != nil {
				return nil, err
			}
			found = append(found, out.Instances...)
			return out.NextToken, nil
		})
		if err != nil {
			return instance{}, err
		}
		switch len(found) {
		case 0:
			return instance{}, errors.New("no IAM Identity Center instance in this account (enable Identity Center, or run in its delegated administrator account)")
		case 1:
			return instance{arn: aws.ToString(found[0].InstanceArn), identityStoreID: aws.ToString(found[0].IdentityStoreId)}, nil
		}
		arns := make([]string, len(found))
		for i, f := range found {
			arns[i] = aws.ToString(f.InstanceArn)
		}
		return instance{}, fmt.Errorf("found %d IAM Identity Center instances (%s), want exactly one", len(found), strings.Join(arns, ", "))
	})
}

func (b *Backend) permissionSet(ctx context.Context, inst instance, name string) (permissionSet, error) {
	if err := b.permissionSets.lock(ctx); err != nil {
		return permissionSet{}, err
	}
	defer b.permissionSets.unlock()
	c := &b.catalog
	if ps, ok := c.byName[name]; ok {
		return ps, nil
	}
	if !c.listed {
		var arns []string
		in := &ssoadmin.ListPermissionSetsInput{InstanceArn: aws.String(inst.arn), MaxResults: aws.Int32(100)}
		err := b.paginate("list permission sets", func(token *string) (*string, error) {
			in.NextToken = token
			out, err := call(ctx, b, b.sso.ListPermissionSets, in)
			if err != nil {
				return nil, err
			}
			arns = append(arns, out.PermissionSets...)
			return out.NextToken, nil
		})
		if err != nil {
			return permissionSet{}, err
		}
		c.listed, c.undecided = true, arns
	}
	for len(c.undecided) > 0 {
		arn := c.undecided[0]
		out, err := call(ctx, b, b.sso.DescribePermissionSet, &ssoadmin.DescribePermissionSetInput{
			InstanceArn:      aws.String(inst.arn),
			PermissionSetArn: aws.String(arn),
		})
		if err != nil && errorCode(err) != codeResourceNotFound {
			return permissionSet{}, fmt.Errorf("describe permission set %s: %w", arn, err)
		}
		c.undecided = c.undecided[1:]
		// A set deleted since the listing is simply not there.
		if err != nil || out.PermissionSet == nil {
			continue
		}
		ps := permissionSet{
			arn:             arn,
			name:            aws.ToString(out.PermissionSet.Name),
			sessionDuration: aws.ToString(out.PermissionSet.SessionDuration),
		}
		c.byName[ps.name] = ps
		if ps.name == name {
			return ps, nil
		}
	}
	return permissionSet{}, &PermissionSetNotFoundError{Name: name}
}

func (b *Backend) userID(ctx context.Context, inst instance, name string) (string, error) {
	return b.userIDs.get(ctx, name, func(ctx context.Context) (string, error) {
		out, err := call(ctx, b, b.ids.GetUserId, &identitystore.GetUserIdInput{
			IdentityStoreId: aws.String(inst.identityStoreID),
			AlternateIdentifier: &idtypes.AlternateIdentifierMemberUniqueAttribute{Value: idtypes.UniqueAttribute{
				AttributePath:  aws.String("userName"),
				AttributeValue: document.NewLazyDocument(name),
			}},
		})
		if errorCode(err) == codeResourceNotFound {
			return "", &UserNotFoundError{UserName: name}
		}
		if err != nil {
			return "", fmt.Errorf("look up user %q: %w", name, err)
		}
		id := aws.ToString(out.UserId)
		b.userNames.put(id, name)
		return id, nil
	})
}

// userName is the userName of a user id, or "" if the Identity Store no
// longer has that user.
func (b *Backend) userName(ctx context.Context, inst instance, id string) (string, error) {
	return b.userNames.get(ctx, id, func(ctx context.Context) (string, error) {
		out, err := call(ctx, b, b.ids.DescribeUser, &identitystore.DescribeUserInput{
			IdentityStoreId: aws.String(inst.identityStoreID),
			UserId:          aws.String(id),
		})
		if errorCode(err) == codeResourceNotFound {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("describe user %s: %w", id, err)
		}
		return aws.ToString(out.UserName), nil
	})
}

// holdersOf lists, once per Backend, the users holding one permission set
// on one account.
func (b *Backend) holdersOf(ctx context.Context, inst instance, k setKey) (*holders, error) {
	return b.assigned.get(ctx, k, func(ctx context.Context) (*holders, error) {
		h := &holders{users: map[string]bool{}}
		in := &ssoadmin.ListAccountAssignmentsInput{
			InstanceArn:      aws.String(inst.arn),
			AccountId:        aws.String(k.accountID),
			PermissionSetArn: aws.String(k.permissionSetARN),
			MaxResults:       aws.Int32(100),
		}
		what := fmt.Sprintf("list assignments of %s on %s", k.permissionSetARN, k.accountID)
		err := b.paginate(what, func(token *string) (*string, error) {
			in.NextToken = token
			out, err := call(ctx, b, b.sso.ListAccountAssignments, in)
			if err != nil {
				return nil, err
			}
			for _, a := range out.AccountAssignments {
				if a.PrincipalType == types.PrincipalTypeUser {
					h.users[aws.ToString(a.PrincipalId)] = true
				}
			}
			return out.NextToken, nil
		})
		if err != nil {
			return nil, err
		}
		return h, nil
	})
}

// paginate calls page with each next token until there is none, at most
// Options.MaxPages times. A repeated token is an error: moto repeats one
// forever when an assignment exists twice.
func (b *Backend) paginate(what string, page func(token *string) (next *string, err error)) error {
	seen := map[string]bool{}
	var token *string
	for range b.opts.MaxPages {
		next, err := page(token)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if aws.ToString(next) == "" {
			return nil
		}
		if seen[*next] {
			return fmt.Errorf("%s: page token %q repeated", what, *next)
		}
		seen[*next] = true
		token = next
	}
	return fmt.Errorf("%s: more than %d pages", what, b.opts.MaxPages)
}
