package plugin

import (
	"context"
	"errors"
	"fmt"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/radmfa/radmfa/plugin/internal/pb"
)

// GRPCPlugin is the go-plugin glue for Notifier over gRPC. Plugin authors
// do not need it ([Serve] uses it); hosts put it in go-plugin's
// ClientConfig.Plugins under [PluginName] and get a Notifier from
// Dispense (package plugin/host does this).
type GRPCPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	// Impl is the notifier to serve (plugin side only).
	Impl Notifier
}

var (
	_ goplugin.GRPCPlugin = (*GRPCPlugin)(nil)
	_ pb.NotifierServer   = (*grpcServer)(nil)
	_ Notifier            = (*grpcClient)(nil)
)

// GRPCServer registers the notifier service on the plugin's gRPC server.
func (p *GRPCPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errors.New("plugin: GRPCPlugin.Impl is nil")
	}
	pb.RegisterNotifierServer(s, &grpcServer{impl: p.Impl})
	return nil
}

// GRPCClient returns a Notifier that calls the plugin over conn.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return &grpcClient{c: pb.NewNotifierClient(conn)}, nil
}

// grpcServer runs in the plugin: it converts the wire messages and calls
// the plugin author's Notifier.
type grpcServer struct {
	pb.UnimplementedNotifierServer
	impl Notifier
}

func (s *grpcServer) Configure(ctx context.Context, in *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	_, err := s.impl.Configure(ctx, &ConfigureRequest{Name: in.GetName(), Settings: in.GetSettingsJson()})
	if err != nil {
		return nil, err
	}
	return &pb.ConfigureResponse{}, nil
}

func (s *grpcServer) Notify(ctx context.Context, in *pb.NotifyRequest) (*pb.NotifyResponse, error) {
	req := notifyRequestFromPB(in)
	if err := req.Validate(); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	resp, err := s.impl.Notify(ctx, req)
	if err != nil {
		return nil, err
	}
	if resp == nil {
		return nil, errors.New("notifier returned no response and no error")
	}
	st, ok := statusToPB(resp.Status)
	if !ok {
		return nil, fmt.Errorf("notifier returned status %v", resp.Status)
	}
	return &pb.NotifyResponse{Id: resp.ID, Status: st, Detail: resp.Detail}, nil
}

// grpcClient runs in the host and implements Notifier by calling the
// plugin. Errors that the plugin returned come back as plain errors with
// its message; transport failures (the plugin died, the deadline passed)
// keep their gRPC status, so that status.Code tells them apart.
type grpcClient struct {
	c pb.NotifierClient
}

func (c *grpcClient) Configure(ctx context.Context, req *ConfigureRequest) (*ConfigureResponse, error) {
	_, err := c.c.Configure(ctx, &pb.ConfigureRequest{Name: req.Name, SettingsJson: req.Settings})
	if err != nil {
		return nil, remoteError(err)
	}
	return &ConfigureResponse{}, nil
}

func (c *grpcClient) Notify(ctx context.Context, req *NotifyRequest) (*NotifyResponse, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	out, err := c.c.Notify(ctx, notifyRequestToPB(req))
	if err != nil {
		return nil, remoteError(err)
	}
	st, ok := statusFromPB(out.GetStatus())
	if !ok {
		return nil, fmt.Errorf("plugin answered with status %v", out.GetStatus())
	}
	return &NotifyResponse{ID: out.GetId(), Status: st, Detail: out.GetDetail()}, nil
}

// RemoteError is an error that the plugin's Notifier returned, carried
// back to the host.
type RemoteError struct {
	Code    codes.Code
	Message string
}

func (e *RemoteError) Error() string { return e.Message }

// remoteError turns errors the plugin returned (Unknown for plain errors,
// InvalidArgument for a refused request) into RemoteError; other codes
// are transport or deadline failures and stay gRPC status errors.
func remoteError(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.Unknown, codes.InvalidArgument:
		return &RemoteError{Code: st.Code(), Message: st.Message()}
	}
	return err
}

func notifyRequestToPB(r *NotifyRequest) *pb.NotifyRequest {
	out := &pb.NotifyRequest{
		Kind:    kindToPB(r.Kind),
		User:    r.User,
		To:      r.To,
		Subject: r.Subject,
		Text:    r.Text,
		Code:    r.Code.Reveal(),
	}
	if p := r.Push; p != nil {
		out.Push = &pb.Push{
			ApprovalUrl:         p.ApprovalURL.Reveal(),
			Resource:            p.Resource,
			Organisation:        p.Organisation,
			ClientIp:            p.ClientIP,
			RequestTimeUnixNano: unixNano(p.RequestTime),
			ExpiresUnixNano:     unixNano(p.Expires),
			Variant:             p.Variant,
			RequestCode:         p.RequestCode,
		}
	}
	return out
}

func notifyRequestFromPB(in *pb.NotifyRequest) *NotifyRequest {
	r := &NotifyRequest{
		Kind:    kindFromPB(in.GetKind()),
		User:    in.GetUser(),
		To:      in.GetTo(),
		Subject: in.GetSubject(),
		Text:    in.GetText(),
		Code:    Secret(in.GetCode()),
	}
	if p := in.GetPush(); p != nil {
		r.Push = &Push{
			ApprovalURL:  Secret(p.GetApprovalUrl()),
			Resource:     p.GetResource(),
			Organisation: p.GetOrganisation(),
			ClientIP:     p.GetClientIp(),
			RequestTime:  fromUnixNano(p.GetRequestTimeUnixNano()),
			Expires:      fromUnixNano(p.GetExpiresUnixNano()),
			Variant:      p.GetVariant(),
			RequestCode:  p.GetRequestCode(),
		}
	}
	return r
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func kindToPB(k Kind) pb.Kind {
	switch k {
	case KindPush:
		return pb.Kind_KIND_PUSH
	case KindCode:
		return pb.Kind_KIND_CODE
	case KindAlert:
		return pb.Kind_KIND_ALERT
	}
	return pb.Kind_KIND_UNSPECIFIED
}

func kindFromPB(k pb.Kind) Kind {
	switch k {
	case pb.Kind_KIND_PUSH:
		return KindPush
	case pb.Kind_KIND_CODE:
		return KindCode
	case pb.Kind_KIND_ALERT:
		return KindAlert
	}
	return KindInvalid
}

func statusToPB(s Status) (pb.Status, bool) {
	switch s {
	case StatusSent:
		return pb.Status_STATUS_SENT, true
	case StatusQueued:
		return pb.Status_STATUS_QUEUED, true
	case StatusFailed:
		return pb.Status_STATUS_FAILED, true
	}
	return pb.Status_STATUS_UNSPECIFIED, false
}

func statusFromPB(s pb.Status) (Status, bool) {
	switch s {
	case pb.Status_STATUS_SENT:
		return StatusSent, true
	case pb.Status_STATUS_QUEUED:
		return StatusQueued, true
	case pb.Status_STATUS_FAILED:
		return StatusFailed, true
	}
	return StatusInvalid, false
}
