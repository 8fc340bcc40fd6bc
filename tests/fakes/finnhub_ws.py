"""A fake Finnhub trade websocket: each connection plays a script of frames and drops."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from urllib.parse import parse_qs, urlsplit

from websockets.sync.server import serve

DROP = object()  # in a script: close the connection abruptly, as Finnhub routinely does


class FakeTradeSocket:
    """Connection n plays scripts[n] (the last script repeats) after the client subscribed."""

    def __init__(self, scripts: list[list], symbols_expected: int):
        self.scripts = scripts
        self.symbols_expected = symbols_expected
        self.connections = 0
        self.tokens: list[str] = []
        self.subscriptions: list[list[str]] = []
        self._server = serve(self._handle, "127.0.0.1", 0)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}"

    def _handle(self, connection) -> None:
        index = self.connections
        self.connections += 1
        query = parse_qs(urlsplit(connection.request.path).query)
        self.tokens.append(query.get("token", [""])[0])
        subscribed = []
        while len(subscribed) < self.symbols_expected:
            subscribed.append(json.loads(connection.recv(timeout=10))["symbol"])
        self.subscriptions.append(subscribed)
        for frame in self.scripts[min(index, len(self.scripts) - 1)]:
            if frame is DROP:
                connection.socket.close()  # no closing handshake: a dropped socket
                return
            connection.send(frame if isinstance(frame, str) else json.dumps(frame))
            time.sleep(0.05)
        with contextlib.suppress(Exception):  # the client left, whichever way
            connection.recv()  # hold the connection open until the client leaves

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
