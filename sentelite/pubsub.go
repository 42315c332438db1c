package sentelite

import (
	"context"
	"fmt"
	"slices"

	"olympos.io/encoding/edn"

	"github.com/sente-clj/sente/wire"
)

// EvUnsubscribed is accepted as the answer to an unsubscribe besides
// wire.EvSubscribed (which the spec and the gateway send, with
// :subscribed false).
const EvUnsubscribed edn.Keyword = "sente-lite/unsubscribed"

const (
	kwChannelID     = edn.Keyword("channel-id")
	kwData          = edn.Keyword("data")
	kwExcludeSender = edn.Keyword("exclude-sender?")
)

func channelEvent(id edn.Keyword, channel string) wire.Event {
	return wire.Event{ID: id, HasData: true, Data: map[edn.Keyword]any{kwChannelID: channel}}
}

// RefusedError is the server's refusal of a Subscribe or Unsubscribe.
type RefusedError struct {
	Op      string // "subscribe to" or "unsubscribe from"
	Channel string
	Reason  string // the server's words
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("sentelite: %s %q refused: %s", e.Op, e.Channel, e.Reason)
}

// Subscribe asks the server to send this client channel's messages and waits
// for [:sente-lite/subscribed {:channel-id channel :success true}]. A
// refusal (:success false) is an error quoting the server's reason. The
// channel is then listed by Subscriptions. Subscriptions are not restored
// after a reconnect; see the package documentation.
func (c *Client) Subscribe(ctx context.Context, channel string) error {
	w := c.Expect(wire.EvSubscribed, func(ev wire.Event) bool {
		ch, _ := wire.GetString(ev.Data, "channel-id")
		sub, ok := wire.Get(ev.Data, "subscribed").(bool)
		return ch == channel && (!ok || sub) // not an unsubscribe's answer
	})
	if err := c.Send(channelEvent(wire.EvSubscribe, channel)); err != nil {
		w.Cancel()
		return fmt.Errorf("sentelite: subscribe to %q: %w", channel, err)
	}
	ev, err := w.Wait(ctx)
	if err != nil {
		return fmt.Errorf("sentelite: subscribe to %q: %w", channel, err)
	}
	if !wire.GetBool(ev.Data, "success") {
		return &RefusedError{Op: "subscribe to", Channel: channel, Reason: reason(ev.Data)}
	}
	c.mu.Lock()
	if !slices.Contains(c.subs, channel) {
		c.subs = append(c.subs, channel)
	}
	c.mu.Unlock()
	return nil
}

// Unsubscribe asks the server to stop sending channel's messages and waits
// for its answer (:sente-lite/subscribed with :subscribed false, or
// :sente-lite/unsubscribed). Unsubscribing from a channel the server does
// not know is not an error.
func (c *Client) Unsubscribe(ctx context.Context, channel string) error {
	w := c.Expect("", func(ev wire.Event) bool {
		if ev.ID != wire.EvSubscribed && ev.ID != EvUnsubscribed {
			return false
		}
		ch, _ := wire.GetString(ev.Data, "channel-id")
		sub, ok := wire.Get(ev.Data, "subscribed").(bool)
		return ch == channel && (ev.ID == EvUnsubscribed || !ok || !sub)
	})
	if err := c.Send(channelEvent(wire.EvUnsubscribe, channel)); err != nil {
		w.Cancel()
		return fmt.Errorf("sentelite: unsubscribe from %q: %w", channel, err)
	}
	ev, err := w.Wait(ctx)
	if err != nil {
		return fmt.Errorf("sentelite: unsubscribe from %q: %w", channel, err)
	}
	c.mu.Lock()
	c.subs = slices.DeleteFunc(c.subs, func(s string) bool { return s == channel })
	c.mu.Unlock()
	if _, ok := wire.Get(ev.Data, "success").(bool); ok && !wire.GetBool(ev.Data, "success") {
		return &RefusedError{Op: "unsubscribe from", Channel: channel, Reason: reason(ev.Data)}
	}
	return nil
}

// Subscriptions lists, in order, the channels this Client has subscribed to
// and not unsubscribed from since it was made, across reconnects, so an
// OnReconnect hook can resubscribe. After a reconnect the server has none of
// them until the application subscribes again.
func (c *Client) Subscriptions() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.subs)
}

// Publish sends data to every subscriber of channel, this client included
// unless excludeSender. The server answers nothing on success; a failure
// comes back as a :sente-lite/error event.
func (c *Client) Publish(channel string, data any, excludeSender bool) error {
	return c.Send(wire.Event{ID: wire.EvPublish, HasData: true, Data: map[edn.Keyword]any{
		kwChannelID: channel, kwData: data, kwExcludeSender: excludeSender,
	}})
}

// ChannelMessage is the data of [:sente-lite/channel-msg {:channel-id ..
// :data .. :from ..}]; From is the publisher's uid.
type ChannelMessage struct {
	Channel string
	Data    any
	From    string
}

// ParseChannelMessage reads a :sente-lite/channel-msg event.
func ParseChannelMessage(ev wire.Event) (ChannelMessage, bool) {
	if ev.ID != wire.EvChannelMsg {
		return ChannelMessage{}, false
	}
	ch, ok := wire.GetString(ev.Data, "channel-id")
	if !ok {
		return ChannelMessage{}, false
	}
	from, _ := wire.GetString(ev.Data, "from")
	return ChannelMessage{Channel: ch, Data: wire.Get(ev.Data, "data"), From: from}, true
}

// OnChannel registers a handler for the messages of channel ("" for every
// channel) and returns its id for Off. fn runs on the read goroutine and
// must not block. It does not subscribe.
func (c *Client) OnChannel(channel string, fn func(ChannelMessage)) (id string) {
	return c.On(HandlerOptions{
		EventID: wire.EvChannelMsg,
		Callback: func(m Message) {
			if cm, ok := ParseChannelMessage(m.Event); ok && (channel == "" || cm.Channel == channel) {
				fn(cm)
			}
		},
	})
}

// reason quotes why the server refused, from :error, :reason or :message.
func reason(data any) string {
	for _, k := range []string{"error", "reason", "message"} {
		if v := wire.Get(data, k); v != nil {
			if s, ok := v.(string); ok {
				return s
			}
			if b, err := wire.Print(v); err == nil {
				return string(b)
			}
		}
	}
	return "no reason given"
}
