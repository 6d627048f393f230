"""Request-size limit as pure ASGI middleware, so even chunked uploads cannot exceed it."""

from __future__ import annotations

import contextlib
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    pass


def _problem(limit: int) -> bytes:
    return json.dumps(
        {
            "type": "/api/v1/problems/request-too-large",
            "title": "Request too large",
            "status": 413,
            "detail": f"the request body exceeds the limit of {limit} bytes",
        }
    ).encode()


class RequestSizeLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._reject(send)
                return
        seen = 0
        started = False
        rejected = False

        async def limited_receive() -> Message:
            nonlocal seen, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    if started:
                        raise BodyTooLarge
                    # Answer 413 here: an exception would reach the app's body parser and come out as a 400.
                    rejected = True
                    await self._reject(send)
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if rejected:
                return  # the 413 is already out; whatever the app answers to the cut-off body is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        # BodyTooLarge: the app had already begun its answer; cutting the body short is all that is left.
        with contextlib.suppress(BodyTooLarge):
            await self.app(scope, limited_receive, tracking_send)

    async def _reject(self, send: Send) -> None:
        body = _problem(self.max_bytes)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
