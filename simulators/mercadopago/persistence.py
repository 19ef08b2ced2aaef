"""What a restarted Mercado Pago simulator needs to go on where it stopped (`--state-file`):
preferences, preapprovals, payments, invoices, idempotency records, the clock's offset, and
every notification with its attempts, so those not yet delivered are sent after the restart."""

from __future__ import annotations

import itertools
from typing import Any

from simulators.mercadopago.notify import Notification
from simulators.mercadopago.state import Account


def capture(account: Account) -> dict[str, Any]:
    return {
        "clock_offset": account.clock.offset,
        "preferences": account.preferences,
        "preapprovals": account.preapprovals,
        "payments": account.payments,
        "authorized_payments": account.authorized_payments,
        "idempotency": account.idempotency,
        "notifications": [
            (n.id, n.type, n.action, n.data_id, n.url, n.body, n.attempts, n.delivered)
            for n in account.notifier.notifications.values()
        ],
    }


def restore(saved: dict[str, Any], account: Account) -> None:
    account.clock.offset = saved["clock_offset"]
    for name in ("preferences", "preapprovals", "payments", "authorized_payments", "idempotency"):
        setattr(account, name, saved[name])
    # Ids go on from the highest one issued, as they would have.
    if account.payments:
        account.payment_ids = itertools.count(max(account.payments) + 1)
    if account.authorized_payments:
        account.invoice_ids = itertools.count(max(account.authorized_payments) + 1)
    account.notifier.restore(
        [
            Notification(id_, type_, action, data_id, url, body, attempts, delivered)
            for id_, type_, action, data_id, url, body, attempts, delivered in saved[
                "notifications"
            ]
        ]
    )
