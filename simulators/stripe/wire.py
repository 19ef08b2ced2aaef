"""Stripe's wire format: form-encoded nested parameters in, `{"error": {...}}` bodies out."""

from __future__ import annotations

import secrets
import string
from typing import Any
from urllib.parse import parse_qsl

Params = dict[str, Any]

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


class StripeApiError(Exception):
    """Rendered as Stripe renders errors: HTTP status + `{"error": {type, code, message, param}}`
    (code and param only when Stripe gives them)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = "https://stripe.com/docs/error-codes/" + self.code.replace("_", "-")
        if self.param is not None:
            error["param"] = self.param
        return {"error": error}


def missing(param: str) -> StripeApiError:
    return StripeApiError(
        400, f"Missing required param: {param}.", code="parameter_missing", param=param
    )


def no_such(kind: str, object_id: str, param: str) -> StripeApiError:
    return StripeApiError(
        404 if param == "id" else 400,
        f"No such {kind}: '{object_id}'",
        code="resource_missing",
        param=param,
    )


def invalid(param: str, message: str) -> StripeApiError:
    return StripeApiError(400, message, code="parameter_invalid_string", param=param)


def decode_form(pairs: list[tuple[str, str]]) -> Params:
    """`line_items[0][price]=p&expand[]=x&metadata[user_id]=u` → nested dicts and lists, the way
    Stripe reads them (indexed and `[]` arrays both accepted)."""
    root: Params = {}
    for key, value in pairs:
        head, _, rest = key.partition("[")
        parts = [head] + ([p.rstrip("]") for p in ("[" + rest).split("[")[1:]] if rest else [])
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            nxt = None if last else parts[i + 1]
            if isinstance(node, list):  # only `[]` appends reach here
                if last:
                    node.append(value)
                else:
                    node.append({} if nxt else [])
                    node = node[-1]
                continue
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, [] if nxt == "" else {})
                if not isinstance(node, dict | list):
                    raise invalid(key, f"Invalid hash: {key}")
    decoded: Params = _lists(root)
    return decoded


def _lists(node: Any) -> Any:
    """Dicts keyed 0..n-1 (from `a[0]`, `a[1]`) become lists."""
    if isinstance(node, list):
        return [_lists(v) for v in node]
    if not isinstance(node, dict):
        return node
    converted = {k: _lists(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def parse_query(query: str) -> Params:
    return decode_form(parse_qsl(query, keep_blank_values=True))


# Parameter readers: values arrive as strings; errors name the parameter as Stripe does.


def get_str(params: Params, name: str, *, required: bool = False) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise missing(name)
        return None
    if not isinstance(value, str):
        raise invalid(name, f"Invalid string: {name}")
    return value


def get_bool(params: Params, name: str) -> bool | None:
    value = params.get(name)
    if value is None:
        return None
    if value not in ("true", "false"):
        raise StripeApiError(
            400, f"Invalid boolean: {value}", code="parameter_invalid_boolean", param=name
        )
    return bool(value == "true")


def get_int(params: Params, name: str, *, param: str | None = None) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.lstrip("-").isdigit():
        raise StripeApiError(
            400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=param or name
        )
    return int(value)


def get_metadata(params: Params, name: str = "metadata") -> dict[str, str] | None:
    value = params.get(name)
    if value is None or value == "":
        return None if value is None else {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise invalid(name, f"Invalid hash: {name}")
    return {k: v for k, v in value.items() if v != ""}  # an empty value unsets the key


def get_expand(params: Params) -> list[str]:
    value = params.get("expand", [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid("expand", "Invalid array: expand")
    return value


def reject_unknown(params: Params, allowed: set[str]) -> None:
    for name in params:
        if name not in allowed:
            raise StripeApiError(
                400,
                f"Received unknown parameter: {name}",
                code="parameter_unknown",
                param=name,
            )
