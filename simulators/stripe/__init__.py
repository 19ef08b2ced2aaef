"""A faithful local Stripe API (v1) for subscriptions through Checkout, driven by the official
`stripe` SDK pointed at it (``StripeClient(key, base_addresses={"api": "http://127.0.0.1:P"})``).

Wire format as Stripe's: form-encoded parameters (nested ``line_items[0][price]``,
``metadata[user_id]``, ``expand[]`` / ``expand[0]``), ``Authorization: Bearer sk_...`` (or
Basic ``sk_...:``; missing or wrong key → 401), ``Idempotency-Key`` on POSTs (same key and
parameters → the saved response with ``Idempotent-Replayed: true``; other parameters → 400
``idempotency_error``), ``Request-Id`` on every answer, unknown parameters refused, errors as
``{"error": {"type", "code", "message", "param", "doc_url"}}`` (code and param when Stripe
gives them). Objects are rendered in the shapes of API version `config.API_VERSION` (the one
stripe-python 16.x pins): periods on subscription items, the invoice's subscription under
``parent.subscription_details``.

Stripe routes: ``GET /v1/prices[/{id}]`` (seeded from the config: the Crypteras PRO and MAX
monthly BRL prices, 1990 and 9700 centavos), ``POST|GET /v1/customers``, ``GET
/v1/customers/{id}``, ``POST /v1/checkout/sessions`` (mode=subscription), ``GET
/v1/checkout/sessions/{id}[/line_items]``, ``GET /v1/subscriptions`` (customer, price, status;
canceled ones only with status=canceled|ended|all, as Stripe), ``GET|POST|DELETE
/v1/subscriptions/{id}`` (POST: cancel_at_period_end, metadata, description), ``GET
/v1/invoices/{id}``, ``GET /v1/events[/{id}]``. Lists: newest first, ``limit``,
``starting_after``.

Events have Stripe's envelope (``id evt_..., object: "event", api_version, created, livemode,
pending_webhooks, request {id, idempotency_key}, type, data {object, previous_attributes}``)
and are POSTed to the webhook endpoint signed as Stripe signs (``Stripe-Signature:
t=<unix>,v1=<hex HMAC-SHA256(whsec_..., "{t}.{body}")>``, wall-clock t, re-signed on every
attempt), first attempts one at a time in creation order, retried with exponential backoff on
non-2xx or no answer (`config.DeliveryConfig`), at least once.

Clock: objects and billing periods follow a simulated clock (starts now or at
`SimConfig.clock_start`, ticks with wall time unless frozen). It never bills by itself: the
period-end actions below move it to the period end they act on.

Control API (JSON, unauthenticated, not part of Stripe). Actions answer ``{<object>, "events":
[{"id", "type"}]}``; an action that does not fit the object's state → 409 ``{"detail"}``.

- ``GET /_sim/checkout/{id}``: the page `checkout_session.url` points to (HTML, a Pay button that
  completes the session and redirects to success_url with ``{CHECKOUT_SESSION_ID}`` filled).
- ``POST /_sim/checkout/sessions/{id}/complete`` ``{"email"?}``: the customer pays. Creates the
  customer (if the session had none) and an active subscription (metadata from
  ``subscription_data[metadata]``) with a paid first invoice. Events: customer.created (new
  customer), customer.subscription.created, invoice.paid, checkout.session.completed.
- ``POST /_sim/subscriptions/{id}/renew``: the period ends and renewal is paid: invoice.paid,
  customer.subscription.updated (new item periods; previous_attributes has the old items).
- ``POST /_sim/subscriptions/{id}/fail`` ``{"exhausted"?: false}``: active → the renewal fails:
  new period, open invoice, invoice.payment_failed + customer.subscription.updated
  (past_due); past_due → a retry fails: invoice.payment_failed. ``exhausted``: retries are
  over and the subscription is canceled (customer.subscription.deleted, reason payment_failed).
- ``POST /_sim/subscriptions/{id}/recover``: past_due → the open invoice is paid: invoice.paid,
  customer.subscription.updated (active).
- ``POST /_sim/subscriptions/{id}/period-end``: a cancel_at_period_end subscription ends
  (status canceled, customer.subscription.deleted); any other renews as above.
- ``GET /_sim/clock`` → ``{"now", "frozen"}``; ``POST /_sim/clock`` ``{"now"?, "advance_seconds"?,
  "frozen"?}`` (forward only).
- ``GET /_sim/webhooks`` → ``{"url", "secret_set", "auto"}``; ``POST /_sim/webhooks`` ``{"url"?,
  "secret"?, "auto"?}``: the endpoint, its whsec_ secret (never echoed), and whether new events
  are sent at once (``auto: false`` holds them, to send later in a chosen order).
- ``GET /_sim/events?type=&delivered=&full=`` → every event with its delivery attempts
  (``number, url, sent_at, status, error, duration_ms``), ``delivered``, ``retrying``; ``full``
  adds the event. ``GET /_sim/events/{id}`` → one, with the event.
- ``POST /_sim/events/{id}/deliver``: send again (a duplicate, as Stripe's "resend").
- ``POST /_sim/events/deliver`` ``{"ids"?: [...], "order"?: "given"|"reversed"}``: send these
  events (default: all held, never sent) one after another in that order. Both deliver routes
  answer after the first attempts, with their outcome; failures go on retrying.
- ``POST /_sim/events/settle``: answers, like ``GET /_sim/events``, once nothing is queued and no
  retry is scheduled (every event delivered or given up).

Run it with ``crypteras sim stripe --port P --webhook-url URL --webhook-secret whsec_...`` (see
`server.add_arguments` and `server.run_from_args`), or in-process with
`create_app(SimConfig(...))` (`ThreadedServer` serves it on a free loopback port).
"""

from simulators.stripe.app import create_app
from simulators.stripe.config import API_VERSION, DeliveryConfig, PriceConfig, SimConfig
from simulators.stripe.server import ThreadedServer, add_arguments, run, run_from_args

__all__ = [
    "API_VERSION",
    "DeliveryConfig",
    "PriceConfig",
    "SimConfig",
    "ThreadedServer",
    "add_arguments",
    "create_app",
    "run",
    "run_from_args",
]
