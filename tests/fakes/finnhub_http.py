"""A fake Finnhub REST server: /api/v1/quote answers scripted per symbol, requests recorded."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    """One scripted answer. A header value may be a function, called when the request arrives;
    `transit` holds the request on its way in (its arrival is noted after it), `delay` the answer."""

    status: int = 200
    body: str = ""
    content_type: str = "application/json; charset=utf-8"
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    transit: float = 0.0


def quote(price: float, t: int | None = None) -> dict:
    """A realistic /quote answer."""
    t = int(time.time()) - 30 if t is None else t
    return {
        "c": price,
        "d": 0.5,
        "dp": 0.2,
        "h": price + 1,
        "l": price - 1,
        "o": price - 0.5,
        "pc": price - 0.5,
        "t": t,
    }


def json_reply(payload, status: int = 200, **headers) -> Reply:
    return Reply(status=status, body=json.dumps(payload), headers=headers)


@dataclass
class Request:
    """One request as the server saw it: when it arrived (monotonic and wall clock), what it answered."""

    symbol: str
    token: str
    at: float
    wall: float
    headers: dict


class FakeFinnhub:
    """Serves scripted replies per symbol (then `default(symbol)`) on a free local port."""

    def __init__(self, default=lambda symbol: json_reply(quote(100.0))):
        self.scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self.default = default
        self.requests: list[Request] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(url.query).items()}
                symbol = params.get("symbol", "")
                script = fake.scripts[symbol]
                reply = script.popleft() if script else fake.default(symbol)
                time.sleep(reply.transit)
                at, wall = time.monotonic(), time.time()
                headers = {
                    name.replace("_", "-"): str(value() if callable(value) else value)
                    for name, value in reply.headers.items()
                }
                fake.requests.append(Request(symbol, params.get("token", ""), at, wall, headers))
                if reply.delay:
                    time.sleep(reply.delay)
                body = reply.body.replace("{url}", self.path).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/v1"

    def script(self, symbol: str, *replies: Reply) -> None:
        """Answer the next requests for `symbol` with these replies, in order."""
        self.scripts[symbol].extend(replies)

    def requests_for(self, symbol: str) -> list[Request]:
        return [r for r in self.requests if r.symbol == symbol]

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
