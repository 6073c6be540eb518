package services

import (
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/switchboardhq/switchboard"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func tsp(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}

// The proto Role enum and switchboard.Role share their numbering.
func roleToProto(r switchboard.Role) switchboardv1.Role   { return switchboardv1.Role(r) }
func roleFromProto(r switchboardv1.Role) switchboard.Role { return switchboard.Role(r) }

func page(size int32, token string) switchboard.PageRequest {
	return switchboard.PageRequest{Size: size, Token: token}
}

func userToProto(u *switchboard.User) *switchboardv1.User {
	return &switchboardv1.User{Id: u.ID, Email: u.Email, Name: u.Name, CreateTime: ts(u.CreatedAt)}
}

func orgToProto(o *switchboard.Organization) *switchboardv1.Organization {
	return &switchboardv1.Organization{
		Id: o.ID, Name: o.Name, Slug: o.Slug, CreateTime: ts(o.CreatedAt), UpdateTime: ts(o.UpdatedAt),
		CallerRole: roleToProto(o.CallerRole),
	}
}

func memberToProto(m *switchboard.Member) *switchboardv1.Member {
	return &switchboardv1.Member{UserId: m.UserID, Email: m.Email, Name: m.Name, Role: roleToProto(m.Role), CreateTime: ts(m.CreatedAt)}
}

func apiKeyToProto(k *switchboard.APIKey) *switchboardv1.APIKey {
	return &switchboardv1.APIKey{
		Id: k.ID, OrganizationId: k.OrganizationID, Name: k.Name, Role: roleToProto(k.Role), Prefix: k.Prefix,
		CreatedBy: k.CreatedBy, CreateTime: ts(k.CreatedAt), LastUsedTime: tsp(k.LastUsedAt),
		ExpireTime: tsp(k.ExpiresAt), RevokeTime: tsp(k.RevokedAt),
	}
}

func auditEventToProto(e *switchboard.AuditEvent) *switchboardv1.AuditEvent {
	details, _ := structpb.NewStruct(e.Details)
	return &switchboardv1.AuditEvent{
		Id: e.ID, OrganizationId: e.OrganizationID, Actor: e.Actor, Action: e.Action, ResourceId: e.ResourceID,
		Details: details, CreateTime: ts(e.CreatedAt),
	}
}

// mapSlice converts each element with fn.
func mapSlice[T, U any](in []T, fn func(T) U) []U {
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = fn(v)
	}
	return out
}
