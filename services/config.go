package services

import (
	"context"
	"errors"

	"google.golang.org/protobuf/proto"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/compile"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

// ConfigHandler serves switchboard.v1.ConfigService: it validates and
// compiles configs with compile/ and stores them through ConfigService.
type ConfigHandler struct {
	Configs switchboard.ConfigService
	Compile compile.Options
}

// specOf returns the kind and message of a request's oneof.
func specOf(breaker *switchboardv1.BreakerConfig, realtime *switchboardv1.RealtimeConfig) (switchboard.InstanceKind, proto.Message, error) {
	switch {
	case breaker != nil:
		return switchboard.KindBreaker, breaker, nil
	case realtime != nil:
		return switchboard.KindRealtime, realtime, nil
	}
	return "", nil, switchboard.Invalid("spec", "set breaker or realtime, matching the instance's kind")
}

func artifactKind(k switchboard.InstanceKind) switchboardv1.InstanceKind {
	if k == switchboard.KindRealtime {
		return switchboardv1.InstanceKind_INSTANCE_KIND_REALTIME
	}
	return switchboardv1.InstanceKind_INSTANCE_KIND_BREAKER
}

// decodeSpec parses a stored spec; nil bytes give nil.
func decodeSpec(kind switchboard.InstanceKind, b []byte) (proto.Message, error) {
	if b == nil {
		return nil, nil
	}
	var m proto.Message = &switchboardv1.BreakerConfig{}
	if kind == switchboard.KindRealtime {
		m = &switchboardv1.RealtimeConfig{}
	}
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, errors.New("decode stored config: " + err.Error())
	}
	return m, nil
}

// prepare merges write-only secrets from the stored spec, validates, fills
// defaults and encodes deterministically.
func (h *ConfigHandler) prepare(kind switchboard.InstanceKind, incoming proto.Message) switchboard.PrepareSpec {
	return func(current []byte) ([]byte, error) {
		msg, err := h.validate(kind, incoming, current)
		if err != nil {
			return nil, err
		}
		return proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	}
}

func (h *ConfigHandler) validate(kind switchboard.InstanceKind, incoming proto.Message, current []byte) (proto.Message, error) {
	if rt, ok := incoming.(*switchboardv1.RealtimeConfig); ok {
		stored, err := decodeSpec(kind, current)
		if err != nil {
			return nil, err
		}
		storedRT, _ := stored.(*switchboardv1.RealtimeConfig)
		incoming = compile.MergeSecrets(rt, storedRT)
	}
	return compile.Validate(compile.KindOf(artifactKind(kind)), incoming, h.Compile)
}

// configToProto decodes a stored version, masking secrets.
func configToProto(c *switchboard.ConfigVersion) (*switchboardv1.Config, error) {
	out := &switchboardv1.Config{
		InstanceId: c.InstanceID, Version: c.Version, PublishedVersion: c.PublishedVersion,
		CreateTime: ts(c.CreatedAt), CreatedBy: c.CreatedBy,
	}
	msg, err := decodeSpec(c.Kind, c.Spec)
	if err != nil {
		return nil, err
	}
	setSpec(out, msg)
	return out, nil
}

func setSpec(out *switchboardv1.Config, msg proto.Message) {
	switch m := msg.(type) {
	case *switchboardv1.BreakerConfig:
		out.Spec = &switchboardv1.Config_Breaker{Breaker: m}
	case *switchboardv1.RealtimeConfig:
		out.Spec = &switchboardv1.Config_Realtime{Realtime: compile.MaskRealtime(m)}
	}
}

func (h *ConfigHandler) GetConfig(ctx context.Context, req *switchboardv1.GetConfigRequest) (*switchboardv1.GetConfigResponse, error) {
	c, err := h.Configs.GetConfig(ctx, req.InstanceId)
	if err != nil {
		return nil, err
	}
	out, err := configToProto(c)
	if err != nil {
		return nil, err
	}
	return &switchboardv1.GetConfigResponse{Config: out}, nil
}

func (h *ConfigHandler) UpdateConfig(ctx context.Context, req *switchboardv1.UpdateConfigRequest) (*switchboardv1.UpdateConfigResponse, error) {
	kind, msg, err := specOf(req.GetBreaker(), req.GetRealtime())
	if err != nil {
		return nil, err
	}
	c, err := h.Configs.UpdateConfig(ctx, switchboard.UpdateConfigInput{
		InstanceID: req.InstanceId, BaseVersion: req.BaseVersion, Kind: kind, Prepare: h.prepare(kind, msg),
	})
	if err != nil {
		return nil, err
	}
	out, err := configToProto(c)
	if err != nil {
		return nil, err
	}
	return &switchboardv1.UpdateConfigResponse{Config: out}, nil
}

func (h *ConfigHandler) ValidateConfig(ctx context.Context, req *switchboardv1.ValidateConfigRequest) (*switchboardv1.ValidateConfigResponse, error) {
	kind, msg, err := specOf(req.GetBreaker(), req.GetRealtime())
	if err != nil {
		return nil, err
	}
	inst, err := h.Configs.CheckConfigAccess(ctx, req.InstanceId)
	if err != nil {
		return nil, err
	}
	if inst.Kind != kind {
		return nil, switchboard.Invalid(string(kind), "instance "+inst.ID+" is a "+string(inst.Kind)+" instance; send a "+string(inst.Kind)+" config")
	}
	current, err := h.Configs.GetConfig(ctx, req.InstanceId)
	if err != nil {
		return nil, err
	}
	valid, err := h.validate(kind, msg, current.Spec)
	if err != nil {
		return nil, err
	}
	out := &switchboardv1.Config{InstanceId: inst.ID, Version: current.Version, PublishedVersion: current.PublishedVersion}
	setSpec(out, valid)
	return &switchboardv1.ValidateConfigResponse{Config: out}, nil
}

func (h *ConfigHandler) ListConfigVersions(ctx context.Context, req *switchboardv1.ListConfigVersionsRequest) (*switchboardv1.ListConfigVersionsResponse, error) {
	versions, next, err := h.Configs.ListConfigVersions(ctx, req.InstanceId, page(req.PageSize, req.PageToken))
	if err != nil {
		return nil, err
	}
	res := &switchboardv1.ListConfigVersionsResponse{NextPageToken: next}
	for _, v := range versions {
		c, err := configToProto(v)
		if err != nil {
			return nil, err
		}
		res.Configs = append(res.Configs, c)
	}
	return res, nil
}

func (h *ConfigHandler) RollbackConfig(ctx context.Context, req *switchboardv1.RollbackConfigRequest) (*switchboardv1.RollbackConfigResponse, error) {
	c, err := h.Configs.RollbackConfig(ctx, req.InstanceId, req.ToVersion, req.BaseVersion)
	if err != nil {
		return nil, err
	}
	out, err := configToProto(c)
	if err != nil {
		return nil, err
	}
	return &switchboardv1.RollbackConfigResponse{Config: out}, nil
}

func (h *ConfigHandler) GetRollout(ctx context.Context, req *switchboardv1.GetRolloutRequest) (*switchboardv1.GetRolloutResponse, error) {
	c, nodes, err := h.Configs.GetRollout(ctx, req.InstanceId)
	if err != nil {
		return nil, err
	}
	res := &switchboardv1.GetRolloutResponse{Version: c.Version, PublishedVersion: c.PublishedVersion}
	for _, n := range nodes {
		res.Nodes = append(res.Nodes, &switchboardv1.RolloutNode{
			NodeId: n.NodeID, AppliedVersion: n.AppliedVersion, LastSeenTime: ts(n.LastSeenAt), LastSyncTime: tsp(n.LastSyncAt),
			LastError: n.LastError, AgentVersion: n.AgentVersion,
		})
	}
	return res, nil
}
