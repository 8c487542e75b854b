"""The shared httpx client keeps its connections alive through a burst (app/core/http.py),
checked against a real HTTP/1.1 server on 127.0.0.1 that counts the connections it accepts."""

from __future__ import annotations

import asyncio
import contextlib

from app.core.http import create_http_client

IN_FLIGHT = 40  # more than the 20 idle connections the pool used to keep
ROUNDS = 3


class Server:
    """Answers each request only once `IN_FLIGHT` requests of the round are waiting, so
    every round of the burst needs `IN_FLIGHT` connections at once."""

    def __init__(self) -> None:
        self.accepted = 0
        self.finished = 0
        self.all_closed = asyncio.Event()  # every connection seen to its end
        self.waiting = 0
        self.release = asyncio.Event()

    def next_round(self) -> None:
        self.waiting, self.release = 0, asyncio.Event()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
                while await reader.readuntil(b"\r\n\r\n"):
                    release = self.release
                    self.waiting += 1
                    if self.waiting == IN_FLIGHT:
                        release.set()
                    await release.wait()
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    await writer.drain()
        finally:
            writer.close()
            await writer.wait_closed()
            self.finished += 1
            if self.finished == self.accepted:
                self.all_closed.set()


async def test_a_burst_reuses_its_connections_instead_of_reconnecting() -> None:
    counting = Server()
    server = await asyncio.start_server(counting.serve, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    try:
        async with create_http_client(timeout_seconds=10) as client:
            for _ in range(ROUNDS):
                counting.next_round()
                calls = (client.get(url) for _ in range(IN_FLIGHT))
                answers = await asyncio.wait_for(asyncio.gather(*calls), timeout=20)
                assert {answer.status_code for answer in answers} == {200}
        # No connection may outlive the test's event loop (a ResourceWarning, an error).
        await asyncio.wait_for(counting.all_closed.wait(), timeout=10)
    finally:
        server.close()
        await server.wait_closed()
    assert counting.accepted == IN_FLIGHT  # opened in the first round, kept for the others
