package services

import (
	"context"

	"github.com/switchboardhq/switchboard"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

// AuthHandler serves switchboard.v1.AuthService.
type AuthHandler struct{ Auth switchboard.AuthService }

func (h *AuthHandler) SignUp(ctx context.Context, req *switchboardv1.SignUpRequest) (*switchboardv1.SignUpResponse, error) {
	sess, org, err := h.Auth.SignUp(ctx, switchboard.SignUpInput{Email: req.Email, Password: req.Password, Name: req.Name})
	if err != nil {
		return nil, err
	}
	return &switchboardv1.SignUpResponse{
		User: userToProto(sess.User), SessionToken: sess.Token, Organization: orgToProto(org), SessionExpireTime: ts(sess.ExpiresAt),
	}, nil
}

func (h *AuthHandler) LogIn(ctx context.Context, req *switchboardv1.LogInRequest) (*switchboardv1.LogInResponse, error) {
	sess, err := h.Auth.LogIn(ctx, req.Email, req.Password, clientAddr(ctx))
	if err != nil {
		return nil, err
	}
	return &switchboardv1.LogInResponse{User: userToProto(sess.User), SessionToken: sess.Token, SessionExpireTime: ts(sess.ExpiresAt)}, nil
}

func (h *AuthHandler) LogOut(ctx context.Context, _ *switchboardv1.LogOutRequest) (*switchboardv1.LogOutResponse, error) {
	return &switchboardv1.LogOutResponse{}, h.Auth.LogOut(ctx)
}

func (h *AuthHandler) GetCurrentUser(ctx context.Context, _ *switchboardv1.GetCurrentUserRequest) (*switchboardv1.GetCurrentUserResponse, error) {
	u, err := h.Auth.CurrentUser(ctx)
	if err != nil {
		return nil, err
	}
	return &switchboardv1.GetCurrentUserResponse{User: userToProto(u)}, nil
}
