"""A real SMTP server for tests (aiosmtpd) on 127.0.0.1 and a free port, collecting messages.

    with SmtpTestServer() as smtp:
        ... send to 127.0.0.1:smtp.port ...
        smtp.messages  # [ReceivedMessage(mail_from, rcpt_tos, message), ...]

``username``/``password`` make the server offer AUTH (LOGIN/PLAIN, allowed without TLS
here: aiosmtpd's auth_require_tls=False); each message records who was signed in.
``refuse`` makes it answer every DATA with a permanent error, as a full mailbox would.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class ReceivedMessage:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    authenticated_as: str | None

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None
        return part.get_content()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Handler:
    def __init__(self, server: SmtpTestServer) -> None:
        self.server = server

    async def handle_DATA(self, smtp_server: Any, session: Any, envelope: Any) -> str:
        if self.server.refuse:
            return "554 5.7.1 Message refused by the test server"
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        data = session.auth_data if session.authenticated else None
        login = data.login.decode() if isinstance(data, LoginPassword) else None
        with self.server.lock:
            self.server.messages.append(
                ReceivedMessage(envelope.mail_from, list(envelope.rcpt_tos), parsed, login)
            )
        return "250 OK"


class SmtpTestServer:
    def __init__(
        self, *, username: str | None = None, password: str | None = None, refuse: bool = False
    ) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.username = username
        self.password = password
        self.refuse = refuse
        self.messages: list[ReceivedMessage] = []
        self.lock = threading.Lock()
        kwargs: dict[str, Any] = {}
        if username is not None:
            # AUTH offered without TLS; not *required* (aiosmtpd warns about that, and
            # warnings are errors here): tests check ``authenticated_as`` instead.
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        self.controller = Controller(_Handler(self), hostname=self.host, port=self.port, **kwargs)

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.username
            and auth_data.password.decode() == self.password
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def config(self, **extra: Any) -> dict[str, Any]:
        """App configuration that sends through this server (no TLS: it is a local test)."""
        config: dict[str, Any] = {
            "MAIL_BACKEND": "smtp",
            "SMTP_HOST": self.host,
            "SMTP_PORT": self.port,
            "SMTP_TLS": "none",
            "SMTP_USERNAME": self.username,
            "SMTP_PASSWORD": self.password,
            "SMTP_TIMEOUT": 5,
            "MAIL_FROM": "Storyteller <storyteller@example.org>",
        }
        config.update(extra)
        return config

    def to(self, address: str) -> list[ReceivedMessage]:
        with self.lock:
            return [m for m in self.messages if address in m.rcpt_tos]

    def start(self) -> SmtpTestServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> SmtpTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
