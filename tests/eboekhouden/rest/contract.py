"""Requests and answers checked against e-Boekhouden's own OpenAPI 3.1 document (openapi-core).

The document is read from `$PVSYNC_OPENAPI`, else from `<repo>/../shared/reference/eboekhouden/rest/
openapi.json` (or the nearest such `shared/` further up, for a git worktree); without either, tests that need it are skipped, except under CI (the variable `CI`
set), where that is a failure. `openapi_patch.json` beside this file corrects the document's known
defects (dangling `$ref`s and the like), each entry saying why.

    validate_request("POST", "/v1/mutation", {}, body)     # raises ContractError when off-contract
    validate_response("GET", "/v1/relation", 200, answer)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import pytest
from werkzeug.datastructures import Headers, ImmutableMultiDict

PATCH_FILE = Path(__file__).with_name("openapi_patch.json")
REPO = Path(__file__).resolve().parents[3]
DEFAULT_DOCUMENT = REPO.parent / "shared" / "reference" / "eboekhouden" / "rest" / "openapi.json"
SERVER = "https://api.e-boekhouden.nl"


class ContractError(AssertionError):
    """A request or answer that the document does not allow."""


def document_path() -> Path | None:
    wanted = os.environ.get("PVSYNC_OPENAPI")
    if wanted:
        return Path(wanted) if Path(wanted).is_file() else None
    # <repo>/../shared, or the nearest shared/ further up (a git worktree lives one level deeper).
    for parent in REPO.parents:
        path = parent / "shared" / "reference" / "eboekhouden" / "rest" / "openapi.json"
        if path.is_file():
            return path
    return None


def require_document() -> Path:
    """The document's path, or a skip (a failure under CI) naming where it was looked for."""
    path = document_path()
    if path is None:
        reason = (f"e-Boekhouden's openapi.json not found: set PVSYNC_OPENAPI or provide {DEFAULT_DOCUMENT}")
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def patched_document(path: Path) -> dict[str, Any]:
    spec = json.loads(path.read_text(encoding="utf-8"))
    for patch in json.loads(PATCH_FILE.read_text(encoding="utf-8"))["patches"]:
        *parents, last = [part.replace("~1", "/").replace("~0", "~") for part in patch["path"].split("/")[1:]]
        node = spec
        for part in parents:
            node = node[part]
        node[last] = patch["value"]
    return spec


@lru_cache(maxsize=2)
def _openapi(path: str):
    from openapi_core import Config, OpenAPI  # imported here: only contract tests pay for it

    # The document itself does not pass the OpenAPI meta-schema (product schemas give booleans the
    # default "true", a string); that is no defect of a request or an answer, so the document is
    # taken as it is and only requests and answers are validated.
    return OpenAPI.from_dict(patched_document(Path(path)), config=Config(spec_validator_cls=None))


def openapi():
    return _openapi(str(require_document()))


@dataclass
class _Request:
    method: str
    path: str
    query: Mapping[str, Any]
    payload: Any
    headers: Mapping[str, str] = field(default_factory=dict)
    host_url: str = SERVER

    def __post_init__(self):
        from openapi_core.datatypes import RequestParameters

        self.method = self.method.lower()
        pairs = [(k, str(v)) for k, values in self.query.items()
                 for v in (values if isinstance(values, (list, tuple)) else [values])]
        self.parameters = RequestParameters(query=ImmutableMultiDict(pairs), header=Headers(dict(self.headers)))

    @property
    def body(self) -> bytes | None:
        if self.payload is None:
            return None
        return self.payload if isinstance(self.payload, bytes) else json.dumps(self.payload, default=str).encode()

    @property
    def content_type(self) -> str:
        return "application/json" if self.payload is not None else ""


@dataclass
class _Response:
    status_code: int
    payload: Any

    @property
    def data(self) -> bytes | None:
        if self.payload is None:
            return b""
        return self.payload if isinstance(self.payload, bytes) else json.dumps(self.payload, default=str).encode()

    @property
    def content_type(self) -> str:
        return "application/json" if self.payload is not None else ""

    @property
    def headers(self) -> Headers:
        return Headers({"Content-Type": self.content_type} if self.content_type else {})


def validate_request(method: str, path: str, query: Mapping[str, Any] | None = None, body: Any = None,
                     headers: Mapping[str, str] | None = None) -> None:
    """Raise ContractError when this request breaks the document (parameters, body schema)."""
    request = _Request(method, path, query or {}, body, dict(headers or {"Authorization": "token"}))
    try:
        openapi().validate_request(request)
    except Exception as exc:  # openapi-core raises a family of errors; the cause chain says what
        raise ContractError(f"{method} {path}: {_explain(exc)}") from exc


def validate_response(method: str, path: str, status: int, body: Any, query: Mapping[str, Any] | None = None) -> None:
    """Raise ContractError when this answer is not one the document describes for the call."""
    request = _Request(method, path, query or {}, None)
    try:
        openapi().validate_response(request, _Response(status, body))
    except Exception as exc:
        raise ContractError(f"{method} {path} -> {status}: {_explain(exc)}") from exc


def validate_schema(name: str, value: Any) -> None:
    """One component schema (e.g. "Error" for answers the document does not list, like a 429)."""
    from openapi_schema_validator import OAS31Validator

    spec = patched_document(require_document())
    schema = {**spec["components"]["schemas"][name], "components": spec["components"]}
    errors = sorted(OAS31Validator(schema).iter_errors(value), key=str)
    if errors:
        raise ContractError(f"{name}: {errors[0].message}")


def _explain(exc: BaseException) -> str:
    parts = []
    while exc is not None and len(parts) < 4:
        detail = getattr(exc, "schema_errors", None)
        parts.append(f"{type(exc).__name__}: {exc}" + (f" [{'; '.join(e.message for e in detail)}]" if detail else ""))
        exc = exc.__cause__ or exc.__context__
    return " <- ".join(parts)
