package services

import (
	"context"

	"github.com/switchboardhq/switchboard"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

// OrganizationHandler serves switchboard.v1.OrganizationService.
type OrganizationHandler struct {
	Orgs switchboard.OrganizationService
}

func (h *OrganizationHandler) CreateOrganization(ctx context.Context, req *switchboardv1.CreateOrganizationRequest) (*switchboardv1.CreateOrganizationResponse, error) {
	o, err := h.Orgs.CreateOrganization(ctx, req.Name, req.Slug)
	if err != nil {
		return nil, err
	}
	return &switchboardv1.CreateOrganizationResponse{Organization: orgToProto(o)}, nil
}

func (h *OrganizationHandler) GetOrganization(ctx context.Context, req *switchboardv1.GetOrganizationRequest) (*switchboardv1.GetOrganizationResponse, error) {
	o, err := h.Orgs.GetOrganization(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return &switchboardv1.GetOrganizationResponse{Organization: orgToProto(o)}, nil
}

func (h *OrganizationHandler) ListOrganizations(ctx context.Context, req *switchboardv1.ListOrganizationsRequest) (*switchboardv1.ListOrganizationsResponse, error) {
	orgs, next, err := h.Orgs.ListOrganizations(ctx, page(req.PageSize, req.PageToken))
	if err != nil {
		return nil, err
	}
	return &switchboardv1.ListOrganizationsResponse{Organizations: mapSlice(orgs, orgToProto), NextPageToken: next}, nil
}

func (h *OrganizationHandler) UpdateOrganization(ctx context.Context, req *switchboardv1.UpdateOrganizationRequest) (*switchboardv1.UpdateOrganizationResponse, error) {
	o, err := h.Orgs.UpdateOrganization(ctx, req.Id, req.Name)
	if err != nil {
		return nil, err
	}
	return &switchboardv1.UpdateOrganizationResponse{Organization: orgToProto(o)}, nil
}

func (h *OrganizationHandler) DeleteOrganization(ctx context.Context, req *switchboardv1.DeleteOrganizationRequest) (*switchboardv1.DeleteOrganizationResponse, error) {
	return &switchboardv1.DeleteOrganizationResponse{}, h.Orgs.DeleteOrganization(ctx, req.Id)
}

func (h *OrganizationHandler) ListMembers(ctx context.Context, req *switchboardv1.ListMembersRequest) (*switchboardv1.ListMembersResponse, error) {
	members, next, err := h.Orgs.ListMembers(ctx, req.OrganizationId, page(req.PageSize, req.PageToken))
	if err != nil {
		return nil, err
	}
	return &switchboardv1.ListMembersResponse{Members: mapSlice(members, memberToProto), NextPageToken: next}, nil
}

func (h *OrganizationHandler) AddMember(ctx context.Context, req *switchboardv1.AddMemberRequest) (*switchboardv1.AddMemberResponse, error) {
	m, err := h.Orgs.AddMember(ctx, req.OrganizationId, req.Email, roleFromProto(req.Role))
	if err != nil {
		return nil, err
	}
	return &switchboardv1.AddMemberResponse{Member: memberToProto(m)}, nil
}

func (h *OrganizationHandler) UpdateMemberRole(ctx context.Context, req *switchboardv1.UpdateMemberRoleRequest) (*switchboardv1.UpdateMemberRoleResponse, error) {
	m, err := h.Orgs.UpdateMemberRole(ctx, req.OrganizationId, req.UserId, roleFromProto(req.Role))
	if err != nil {
		return nil, err
	}
	return &switchboardv1.UpdateMemberRoleResponse{Member: memberToProto(m)}, nil
}

func (h *OrganizationHandler) RemoveMember(ctx context.Context, req *switchboardv1.RemoveMemberRequest) (*switchboardv1.RemoveMemberResponse, error) {
	return &switchboardv1.RemoveMemberResponse{}, h.Orgs.RemoveMember(ctx, req.OrganizationId, req.UserId)
}
