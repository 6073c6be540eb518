package services

import (
	"context"

	"connectrpc.com/connect"

	"github.com/switchboardhq/switchboard"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

// InstanceHandler serves switchboard.v1.InstanceService.
type InstanceHandler struct{ Instances switchboard.InstanceService }

func (h *InstanceHandler) CreateInstance(ctx context.Context, req *switchboardv1.CreateInstanceRequest) (*switchboardv1.CreateInstanceResponse, error) {
	i, err := h.Instances.CreateInstance(ctx, switchboard.CreateInstanceInput{
		OrganizationID: req.OrganizationId, Name: req.Name, Kind: kindFromProto(req.Kind),
		Region: req.Region, Size: req.Size, AllowRegionFallback: req.AllowRegionFallback,
	})
	if err != nil {
		return nil, err
	}
	return &switchboardv1.CreateInstanceResponse{Instance: instanceToProto(i)}, nil
}

func (h *InstanceHandler) GetInstance(ctx context.Context, req *switchboardv1.GetInstanceRequest) (*switchboardv1.GetInstanceResponse, error) {
	i, err := h.Instances.GetInstance(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return &switchboardv1.GetInstanceResponse{Instance: instanceToProto(i)}, nil
}

func (h *InstanceHandler) ListInstances(ctx context.Context, req *switchboardv1.ListInstancesRequest) (*switchboardv1.ListInstancesResponse, error) {
	list, next, err := h.Instances.ListInstances(ctx, req.OrganizationId, page(req.PageSize, req.PageToken))
	if err != nil {
		return nil, err
	}
	return &switchboardv1.ListInstancesResponse{Instances: mapSlice(list, instanceToProto), NextPageToken: next}, nil
}

func (h *InstanceHandler) DeleteInstance(ctx context.Context, req *switchboardv1.DeleteInstanceRequest) (*switchboardv1.DeleteInstanceResponse, error) {
	i, err := h.Instances.DeleteInstance(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return &switchboardv1.DeleteInstanceResponse{Instance: instanceToProto(i)}, nil
}

func (h *InstanceHandler) RestartInstance(ctx context.Context, req *switchboardv1.RestartInstanceRequest) (*switchboardv1.RestartInstanceResponse, error) {
	i, err := h.Instances.RestartInstance(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return &switchboardv1.RestartInstanceResponse{Instance: instanceToProto(i)}, nil
}

func (h *InstanceHandler) WatchInstance(ctx context.Context, req *switchboardv1.WatchInstanceRequest, stream *connect.ServerStream[switchboardv1.WatchInstanceResponse]) error {
	var sendErr error
	err := h.Instances.WatchInstance(ctx, req.Id, func(i *switchboard.Instance) bool {
		sendErr = stream.Send(&switchboardv1.WatchInstanceResponse{Instance: instanceToProto(i)})
		return sendErr == nil
	})
	if err != nil {
		return err
	}
	return sendErr
}

var kinds = map[switchboardv1.InstanceKind]switchboard.InstanceKind{
	switchboardv1.InstanceKind_INSTANCE_KIND_REALTIME: switchboard.KindRealtime,
	switchboardv1.InstanceKind_INSTANCE_KIND_BREAKER:  switchboard.KindBreaker,
}

// kindFromProto maps unknown kinds to "", which validation rejects.
func kindFromProto(k switchboardv1.InstanceKind) switchboard.InstanceKind { return kinds[k] }

func kindToProto(k switchboard.InstanceKind) switchboardv1.InstanceKind {
	for pk, dk := range kinds {
		if dk == k {
			return pk
		}
	}
	return switchboardv1.InstanceKind_INSTANCE_KIND_UNSPECIFIED
}

var states = map[switchboard.InstanceState]switchboardv1.InstanceState{
	switchboard.StatePending:      switchboardv1.InstanceState_INSTANCE_STATE_PENDING,
	switchboard.StateProvisioning: switchboardv1.InstanceState_INSTANCE_STATE_PROVISIONING,
	switchboard.StateRunning:      switchboardv1.InstanceState_INSTANCE_STATE_RUNNING,
	switchboard.StateUpdating:     switchboardv1.InstanceState_INSTANCE_STATE_UPDATING,
	switchboard.StateFailed:       switchboardv1.InstanceState_INSTANCE_STATE_FAILED,
	switchboard.StateDeleting:     switchboardv1.InstanceState_INSTANCE_STATE_DELETING,
	switchboard.StateDeleted:      switchboardv1.InstanceState_INSTANCE_STATE_DELETED,
}

func instanceToProto(i *switchboard.Instance) *switchboardv1.Instance {
	return &switchboardv1.Instance{
		Id: i.ID, OrganizationId: i.OrganizationID, Name: i.Name, Kind: kindToProto(i.Kind), Region: i.Region,
		Size: i.Size, State: states[i.State], StateDetail: i.StateDetail, FailureReason: i.FailureReason,
		EndpointUrl: i.EndpointURL, CreateTime: ts(i.CreatedAt), UpdateTime: ts(i.UpdatedAt),
	}
}
