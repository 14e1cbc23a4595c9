"""RmaClient over httpx.MockTransport: response checks, retries, request counting."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from ctmirror.errors import (
    ApiTransportError,
    ConfigError,
    RmaError,
    TerminalApiStatusError,
    TransientApiStatusError,
)
from ctmirror.rma.client import RmaClient
from ctmirror.rma.query import model_stage, query_url

BASE = "http://api.example.test"
Q = model_stage("Donor", num_rows=5, start_row=0, order=["'id'"], count=False)
ROWS = [{"id": 1, "name": "H17.06.001"}, {"id": 2, "name": "H17.06.002"}]
HTML_OUTAGE = b"<html><body><h1>Site unavailable</h1>Please try again later.</body></html>"

Reply = httpx.Response | Exception


def envelope(rows: list[dict[str, object]], total_rows: int | None = None) -> bytes:
    return json.dumps({
        "success": True, "id": 0, "start_row": 0, "num_rows": len(rows),
        "total_rows": len(rows) if total_rows is None else total_rows, "msg": rows,
    }).encode()


def ok(rows: list[dict[str, object]] = ROWS) -> httpx.Response:
    return httpx.Response(200, content=envelope(rows),
                          headers={"content-type": "application/json; charset=utf-8"})


class Script:
    """A MockTransport handler that plays replies in order and records the requested URLs."""

    def __init__(self, *replies: Reply) -> None:
        self.replies: Iterator[Reply] = iter(replies)
        self.urls: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(str(request.url))
        reply = next(self.replies)
        if isinstance(reply, Exception):
            raise reply
        return reply


def make_client(handler: Callable[[httpx.Request], httpx.Response], *, max_attempts: int = 4,
                sleeps: list[float] | None = None) -> RmaClient:
    recorded = sleeps if sleeps is not None else []
    return RmaClient(BASE, http=httpx.Client(transport=httpx.MockTransport(handler)),
                     max_attempts=max_attempts, sleep=recorded.append)


def test_query_returns_rows_and_sends_the_encoded_url() -> None:
    script = Script(ok())
    response = make_client(script).query(Q)
    assert response.rows == ROWS
    assert response.total_rows == 2
    assert script.urls == [query_url(BASE, Q)]
    assert "%5Bnum_rows$eq5%5D%5Bstart_row$eq0%5D%5Border$eq%27id%27%5D" in script.urls[0]


def test_429_with_retry_after_is_retried_after_that_wait() -> None:
    sleeps: list[float] = []
    script = Script(httpx.Response(429, headers={"retry-after": "7"}, text="slow down"), ok())
    client = make_client(script, sleeps=sleeps)
    assert client.query(Q).rows == ROWS
    assert sleeps == [7.0]
    assert client.requests == 2


def test_retry_after_zero_still_waits() -> None:
    sleeps: list[float] = []
    script = Script(*(httpx.Response(429, headers={"retry-after": "0"}) for _ in range(3)), ok())
    make_client(script, sleeps=sleeps).query(Q)
    assert len(sleeps) == 3
    assert min(sleeps) >= 0.5


def test_503_is_retried_with_growing_backoff() -> None:
    sleeps: list[float] = []
    script = Script(httpx.Response(503), httpx.Response(502), httpx.Response(504), ok())
    assert make_client(script, sleeps=sleeps).query(Q).rows == ROWS
    assert len(sleeps) == 3
    assert sleeps[0] <= 1.0 < sleeps[2]


def test_dropped_connection_is_retried() -> None:
    script = Script(httpx.RemoteProtocolError("Server disconnected without sending a response."),
                    httpx.ConnectError("Connection refused"), httpx.ReadTimeout("timed out"),
                    ok())
    client = make_client(script)
    assert client.query(Q).rows == ROWS
    assert client.requests == 4


def test_html_outage_page_with_status_200_is_retried() -> None:
    script = Script(httpx.Response(200, content=HTML_OUTAGE,
                                   headers={"content-type": "text/html"}), ok())
    client = make_client(script)
    assert client.query(Q).rows == ROWS
    assert client.requests == 2


def test_truncated_body_is_retried() -> None:
    cut = envelope(ROWS)[:40]
    script = Script(httpx.Response(200, content=cut,
                                   headers={"content-type": "application/json"}), ok())
    assert make_client(script).query(Q).rows == ROWS


def test_success_false_is_terminal_and_not_retried() -> None:
    body = json.dumps({"success": False, "id": -1, "msg": "Data Access error: no model Dnoor"})
    script = Script(httpx.Response(200, content=body, headers={"content-type": "application/json"}))
    client = make_client(script)
    with pytest.raises(RmaError, match="no model Dnoor") as caught:
        client.query(Q)
    assert client.requests == 1
    assert caught.value.url == query_url(BASE, Q)


def test_500_with_a_success_false_envelope_is_retried_and_keeps_the_message() -> None:
    # The replica's status=500 fault and a failing back end answer this way, as does a query
    # the API cannot run: every 5xx gets the retry policy.
    body = json.dumps({"success": False, "id": -1, "start_row": 0, "num_rows": 0,
                       "total_rows": 0, "msg": "unknown attribute 'colour'"})
    failed = httpx.Response(500, content=body, headers={"content-type": "application/json"})
    client = make_client(Script(failed, ok()))
    assert client.query(Q).rows == ROWS
    assert client.requests == 2
    client = make_client(Script(*[failed] * 3), max_attempts=3)
    with pytest.raises(TransientApiStatusError, match="colour"):
        client.query(Q)
    assert client.requests == 3


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (httpx.Response(404, text="not found"), TerminalApiStatusError),
        (httpx.Response(200, content=b'{"success": true, "msg": "oops"}',
                        headers={"content-type": "application/json"}), RmaError),
        (httpx.Response(200, content=b"[1, 2]", headers={"content-type": "application/json"}),
         RmaError),
        (httpx.Response(200, content=b"<Response/>", headers={"content-type": "application/xml"}),
         RmaError),
    ],
)
def test_other_bad_answers_are_terminal(reply: httpx.Response, error: type[Exception]) -> None:
    client = make_client(Script(reply))
    with pytest.raises(error):
        client.query(Q)
    assert client.requests == 1


def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    sleeps: list[float] = []
    script = Script(*(httpx.Response(503) for _ in range(3)))
    client = make_client(script, max_attempts=3, sleeps=sleeps)
    with pytest.raises(TransientApiStatusError) as caught:
        client.query(Q)
    assert caught.value.status_code == 503
    assert client.requests == 3
    assert len(sleeps) == 2


def test_gives_up_on_a_dead_server_with_a_transport_error() -> None:
    script = Script(*(httpx.ConnectError("refused") for _ in range(2)))
    with pytest.raises(ApiTransportError, match="no usable answer"):
        make_client(script, max_attempts=2).query(Q)


def test_request_counting_is_thread_safe() -> None:
    def always_ok(request: httpx.Request) -> httpx.Response:
        return ok()

    client = RmaClient(BASE, http=httpx.Client(transport=httpx.MockTransport(always_ok)),
                       concurrency=4)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: len(client.query(Q).rows), range(400)))
    assert results == [2] * 400
    assert client.requests == 400


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ConfigError):
        RmaClient("api.brain-map.org")
    with pytest.raises(ConfigError):
        RmaClient(BASE, concurrency=0)


def test_owned_http_client_is_closed() -> None:
    with RmaClient(BASE) as client:
        http = client._http
    assert http.is_closed


def test_body_cut_inside_a_multibyte_character_is_retried() -> None:
    body = json.dumps({"success": True, "msg": [{"id": 1, "name": "Zürich"}]},
                      ensure_ascii=False).encode()
    cut = body[: body.index("ü".encode()) + 1]
    script = Script(httpx.Response(200, content=cut, headers={"content-type": "application/json"}),
                    ok())
    client = make_client(script)
    assert client.query(Q).rows == ROWS
    assert client.requests == 2
