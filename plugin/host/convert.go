package host

import (
	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/plugin"
)

// notifyRequest converts the engine's notification to the SDK's request.
func notifyRequest(n mfa.Notification) *plugin.NotifyRequest {
	r := &plugin.NotifyRequest{
		Kind:    kind(n.Kind),
		User:    n.User,
		To:      n.To,
		Subject: n.Subject,
		Text:    n.Text,
		Code:    plugin.Secret(n.Code.Reveal()),
	}
	if p := n.Push; p != nil {
		r.Push = &plugin.Push{
			ApprovalURL:  plugin.Secret(p.ApprovalURL.Reveal()),
			Resource:     p.Resource,
			Organisation: p.Organisation,
			ClientIP:     p.ClientIP,
			RequestTime:  p.RequestTime,
			Expires:      p.Expires,
			Variant:      p.Variant,
			RequestCode:  p.RequestCode,
		}
	}
	return r
}

func kind(k mfa.NotificationKind) plugin.Kind {
	switch k {
	case mfa.NotifyPush:
		return plugin.KindPush
	case mfa.NotifyCode:
		return plugin.KindCode
	case mfa.NotifyAlert:
		return plugin.KindAlert
	}
	return plugin.KindInvalid
}
