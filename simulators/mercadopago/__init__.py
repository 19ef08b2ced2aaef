"""Mercado Pago simulator: a real HTTP server speaking MP's REST API and sending its webhooks.

The official ``mercadopago`` SDK works against it unchanged once its HTTP client maps
``https://api.mercadopago.com`` to ``http://HOST:PORT`` (``adapters.payments.mercadopago``).

API (JSON; ``Authorization: Bearer <access token>``, else 401 ``unauthorized``; POSTs honour
``X-Idempotency-Key``: a repeat answers the stored result, the same key with another body is 409;
errors ``{"message", "error", "status", "cause": [...]}``; amounts are JSON numbers):

- ``POST /checkout/preferences`` ``{items: [{title, quantity, unit_price, currency_id}],
  external_reference, payer, back_urls, notification_url, payment_methods, metadata}`` ->
  ``{id, init_point, ...}``; ``GET /checkout/preferences/{id}``
- ``POST /preapproval`` ``{reason, external_reference, payer_email, back_url, auto_recurring:
  {frequency, frequency_type: months|days, transaction_amount, currency_id}}`` -> ``{id,
  init_point, status: "pending", ...}``; ``GET /preapproval/{id}``; ``PUT /preapproval/{id}``
  ``{status: cancelled|paused|authorized}`` (cancelled is final; 400 otherwise);
  ``GET /preapproval/search?payer_email=&status=&external_reference=&offset=&limit=``
- ``GET /v1/payments/{id}`` (404 ``not_found``, cause code 2000);
  ``GET /v1/payments/search?external_reference=&status=&criteria=asc|desc&offset=&limit=``.
  Subscription charges carry ``operation_type: recurring_payment`` and
  ``metadata.preapproval_id``; checkout payments the preference's ``metadata``.
- ``GET /authorized_payments/{id}``: one billing of a preapproval, with its ``payment``.

Notifications (``notify.py``): POST ``{url}?data.id=..&type=..``, body ``{id, live_mode, type,
date_created, user_id, api_version, action, data: {id}}``, headers ``x-request-id`` and
``x-signature: ts=..,v1=..`` over ``id:{data.id};request-id:{x-request-id};ts:{ts};``; retried on
non-2xx with doubling delays (``Delivery``). Types: ``payment`` (``payment.created``),
``subscription_preapproval`` (``updated``), ``subscription_authorized_payment`` (``created``).
A preference's ``notification_url`` takes precedence over the configured URL, as on MP. All
times, including ``ts``, follow the simulated clock.

Control API (tests and the local stack only; JSON bodies):

- ``POST /_sim/preapproval/{id}/authorize``: the payer subscribes; status ``authorized``, first
  charge approved -> ``{preapproval, payment}`` (notifies the preapproval, the authorized
  payment and the payment)
- ``POST /_sim/preapproval/{id}/charge`` ``{status: approved|rejected}``: bill the next period;
  approved moves ``next_payment_date`` a period on, rejected leaves it (``summarized.semaphore``
  yellow) -> ``{preapproval, payment}``
- ``POST /_sim/preapproval/{id}/cancel``: the payer cancels (``cancelled``, notified)
- ``POST /_sim/preferences/{id}/pay`` ``{method: pix|boleto|card, status: approved|rejected}``
  -> the payment (409 if the preference excludes the method's payment type)
- ``GET /_sim/notifications?type=`` every notification with its delivery attempts;
  ``POST /_sim/notifications/{id}/redeliver`` sends one again (a duplicate)
- ``PUT /_sim/webhook`` ``{url}``; ``GET /_sim/clock``; ``POST /_sim/clock`` ``{advance_seconds}``
- ``GET /_sim/checkout/preferences/{id}``, ``GET /_sim/checkout/preapproval/{id}``: the pages
  behind ``init_point``; their buttons pay / subscribe and redirect to the back URL.
"""

from simulators.mercadopago.app import create_app
from simulators.mercadopago.config import Delivery, SimConfig
from simulators.mercadopago.server import (
    RunningSim,
    add_arguments,
    config_from_args,
    main,
    run,
    running,
)

__all__ = [
    "Delivery",
    "RunningSim",
    "SimConfig",
    "add_arguments",
    "config_from_args",
    "create_app",
    "main",
    "run",
    "running",
]
