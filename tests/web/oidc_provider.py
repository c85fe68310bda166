"""A real OpenID Connect provider on loopback for the single sign-on tests (web and browser).

``oidc-provider-mock`` is an OpenID provider server built on Authlib: discovery, a sign-in
form, authorization codes, a token endpoint and RS256 ID tokens signed with keys published at
its JWKS endpoint. It is served by werkzeug on 127.0.0.1 at a random port, wrapped in a
middleware that records what it was sent and, when a test asks, rewrites its token answer.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import oidc_provider_mock
import requests
from werkzeug.serving import make_server

CLIENT_ID = "tandem-test"


@dataclass
class Provider:
    """The running provider, and every request it received (path, query, form)."""

    issuer: str
    requests: list[tuple[str, dict[str, str], dict[str, str]]] = field(default_factory=list)
    # The Authorization header of each request that had one: (path, scheme).
    authorizations: list[tuple[str, str]] = field(default_factory=list)
    # Changes the token endpoint's JSON answer on its way back (a network attacker's view).
    tamper: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    def set_user(self, sub: str, **claims: Any) -> None:
        response = requests.put(f"{self.issuer}/users/{sub}", json=claims, timeout=10)
        assert response.status_code == 204, response.text


class Recorder:
    """WSGI middleware: notes each request to the provider, so the test can check what
    Tandem sent (PKCE, nonce); changes the token answer only when a test sets ``tamper``."""

    def __init__(self, app: Any, provider: Provider) -> None:
        self.app = app
        self.provider = provider

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        body = b""
        if environ.get("REQUEST_METHOD") == "POST":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        self.provider.requests.append((environ["PATH_INFO"], query, form))
        if environ.get("HTTP_AUTHORIZATION"):
            scheme = environ["HTTP_AUTHORIZATION"].split(" ")[0]
            self.provider.authorizations.append((environ["PATH_INFO"], scheme))
        tamper = self.provider.tamper
        if tamper is None or environ["PATH_INFO"] != "/oauth2/token":
            return self.app(environ, start_response)
        answer: dict[str, Any] = {}

        def keep(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            answer.update(status=status, headers=headers)

        raw = b"".join(self.app(environ, keep))
        changed = json.dumps(tamper(json.loads(raw))).encode()
        headers = [(k, v) for k, v in answer["headers"] if k.lower() != "content-length"]
        start_response(answer["status"], [*headers, ("Content-Length", str(len(changed)))])
        return [changed]


@contextmanager
def serve_provider(**options: Any) -> Iterator[Provider]:
    app = oidc_provider_mock.app(require_nonce=True, **options)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    found = Provider(issuer=f"http://127.0.0.1:{server.server_port}")
    server.app = Recorder(app, found)  # type: ignore[assignment]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()
