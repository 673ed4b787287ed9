package plugin_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/radmfa/radmfa/plugin"
)

// smsNotifier is a plugin's notifier: it would hand the message to an SMS
// gateway; here it prints what it would send.
type smsNotifier struct {
	sender string
}

func (n *smsNotifier) Configure(_ context.Context, req *plugin.ConfigureRequest) (*plugin.ConfigureResponse, error) {
	var s struct {
		Sender string `json:"sender"`
	}
	if err := req.Decode(&s); err != nil {
		return nil, err
	}
	if s.Sender == "" {
		return nil, fmt.Errorf("sender is required")
	}
	n.sender = s.Sender
	return &plugin.ConfigureResponse{}, nil
}

func (n *smsNotifier) Notify(_ context.Context, req *plugin.NotifyRequest) (*plugin.NotifyResponse, error) {
	if req.Kind != plugin.KindCode {
		return plugin.Failed("this notifier sends codes only, not %v", req.Kind), nil
	}
	fmt.Printf("SMS from %s to %s: %s\n", n.sender, req.To, req.RevealText())
	return plugin.Sent("sms-1", "accepted by the gateway"), nil
}

// A notifier implements Configure and Notify; its main function calls
// plugin.Serve(&smsNotifier{}). radmfa calls Configure with the settings
// from its config file, then Notify for each message.
func Example() {
	n := &smsNotifier{}
	ctx := context.Background()
	if _, err := n.Configure(ctx, &plugin.ConfigureRequest{Name: "sms", Settings: []byte(`{"sender":"radmfa"}`)}); err != nil {
		fmt.Println(err)
		return
	}
	resp, err := n.Notify(ctx, &plugin.NotifyRequest{
		Kind: plugin.KindCode,
		User: "alice",
		To:   "+441234567889",
		Text: "Your sign-in code is {code}. It expires in 5 minutes.",
		Code: "493817",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Status, resp.ID, resp.Detail)

	_, err = n.Configure(ctx, &plugin.ConfigureRequest{Name: "sms", Settings: []byte(`{"sendr":"x"}`)})
	fmt.Println(err)
	// Output:
	// SMS from radmfa to +441234567889: Your sign-in code is 493817. It expires in 5 minutes.
	// sent sms-1 accepted by the gateway
	// settings: json: unknown field "sendr"
}

// Serve is all a plugin's main function does.
func ExampleServe() {
	plugin.Serve(&smsNotifier{})
}

// Secrets print as [redacted] whatever the verb; Reveal is the one way
// out.
func ExampleSecret() {
	code := plugin.Secret("493817")
	fmt.Println(code)
	fmt.Printf("%v %+v %#v %s %q\n", code, code, code, code, code)
	fmt.Println(len(code.Reveal()))
	// Output:
	// [redacted]
	// [redacted] [redacted] [redacted] [redacted] [redacted]
	// 6
}

// A request prints without its secrets, so it can be logged.
func ExampleNotifyRequest_String() {
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	req := &plugin.NotifyRequest{
		Kind: plugin.KindPush,
		User: "alice",
		Push: &plugin.Push{
			ApprovalURL: "https://mfa.example.com/approve/Zm9vYmFy",
			Resource:    "VPN",
			ClientIP:    "192.0.2.7",
			RequestTime: t0,
			Variant:     "plain",
		},
	}
	fmt.Println(req)
	fmt.Println(strings.Contains(fmt.Sprintf("%+v %#v", req, *req.Push), "Zm9vYmFy"))
	// Output:
	// push notification for "alice" push{url [redacted] resource "VPN" organisation "" client "192.0.2.7" variant "plain" requested 2026-03-04T05:06:07Z}
	// false
}

// RevealText writes the message for a person, secrets included.
func ExampleNotifyRequest_RevealText() {
	push := &plugin.NotifyRequest{
		Kind: plugin.KindPush,
		Text: "Sign in to VPN?",
		Push: &plugin.Push{ApprovalURL: "https://mfa.example.com/approve/Zm9vYmFy"},
	}
	fmt.Println(push.RevealText())
	// Output:
	// Sign in to VPN?
	// Approve or deny: https://mfa.example.com/approve/Zm9vYmFy
}
