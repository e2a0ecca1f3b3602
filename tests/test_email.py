"""E-mail delivery against a real SMTP server on 127.0.0.1 (aiosmtpd)."""

from __future__ import annotations

import email
import socket
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.conftest import invoke


class Inbox:
    """aiosmtpd handler keeping every received message."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        msg = email.message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server():
    inbox = Inbox()

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"s3cret"
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535

    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port(),
                            authenticator=authenticator, auth_require_tls=False)
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def finished_run(runner, tmp_path, small_retail, vader_config) -> Path:
    out = tmp_path / "out"
    result = invoke(runner, "-q", "run", "--no-gates", "--config", vader_config, "--input", small_retail,
                    "--out", out, "--period", "2026-10")
    assert result.exit_code == 0, result.output
    run_dir = out / "2026-10"
    from weasyprint import HTML

    (run_dir / "pdf").mkdir(exist_ok=True)
    HTML(string="<h1>Executive summary</h1><p>test</p>").write_pdf(run_dir / "pdf" / "executive-summary.pdf")
    return run_dir


def _config(tmp_path: Path, port: int, **extra: object) -> Path:
    lines = ["email:", "  smtp_host: 127.0.0.1", f"  smtp_port: {port}", "  tls: none",
             "  from_address: reports@example.com", "  backoff_s: 0"]
    lines += [f"  {k}: {v}" for k, v in extra.items()]
    path = tmp_path / "email.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_message_arrives_with_identical_pdf(runner, tmp_path, finished_run, smtp_server):
    controller, inbox = smtp_server
    config = _config(tmp_path, controller.port)
    result = invoke(runner, "email", "--run", finished_run, "--config", config,
                    "--to", "cfo@example.com", "--to", "Coo Person <coo@example.com>")
    assert result.exit_code == 0, result.output
    assert len(inbox.messages) == 1
    rcpts, msg = inbox.messages[0]
    assert sorted(rcpts) == ["cfo@example.com", "coo@example.com"]
    assert msg["Subject"] == "Customer segments report, October 2026"
    assert msg["From"] == "reports@example.com"
    plain = msg.get_body(preferencelist=("plain",)).get_content()
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert "Active customers" in plain and "Active customers" in html
    attachments = list(msg.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["executive-summary.pdf"]
    sent = (finished_run / "pdf" / "executive-summary.pdf").read_bytes()
    assert attachments[0].get_content() == sent


def test_login_with_password_from_environment(runner, tmp_path, finished_run, smtp_server, monkeypatch):
    controller, inbox = smtp_server
    config = _config(tmp_path, controller.port, smtp_user="reports")
    monkeypatch.setenv("SEGMENT_REPORT_SMTP_PASSWORD", "wrong")
    result = invoke(runner, "email", "--run", finished_run, "--config", config, "--to", "a@example.com")
    assert result.exit_code == 4 and "refused the login" in result.stderr
    monkeypatch.setenv("SEGMENT_REPORT_SMTP_PASSWORD", "s3cret")
    result = invoke(runner, "email", "--run", finished_run, "--config", config, "--to", "a@example.com")
    assert result.exit_code == 0, result.output
    assert len(inbox.messages) == 1


def test_server_down_retries_then_exit_4(runner, tmp_path, finished_run):
    config = _config(tmp_path, _free_port(), retries=2, timeout_s=2)
    result = invoke(runner, "email", "--run", finished_run, "--config", config, "--to", "a@example.com")
    assert result.exit_code == 4
    assert "after 3 attempts" in result.stderr and "ConnectionRefusedError" in result.stderr
    assert result.stderr.count("retrying in") == 2


@pytest.mark.parametrize("args, fragment", [
    (["--subject", "Report\nBcc: victim@example.com"], "subject contains a line break"),
    (["--to", "a@example.com\r\nBcc: victim@example.com"], "recipient contains a line break"),
    (["--to", "not-an-address"], "is not a valid e-mail address"),
    (["--to", "a@example.com, b@example.com"], "is not a valid e-mail address"),
])
def test_header_injection_and_bad_addresses_refused(runner, tmp_path, finished_run, smtp_server, args, fragment):
    controller, inbox = smtp_server
    config = _config(tmp_path, controller.port)
    extra = [] if "--to" in args else ["--to", "a@example.com"]
    result = invoke(runner, "email", "--run", finished_run, "--config", config, *extra, *args)
    assert result.exit_code == 2
    assert fragment in result.stderr
    assert inbox.messages == []


def test_dry_run_writes_eml(runner, tmp_path, finished_run):
    eml = tmp_path / "message.eml"
    result = invoke(runner, "email", "--run", finished_run, "--to", "a@example.com", "--dry-run",
                    "--eml", eml)
    assert result.exit_code == 0, result.output
    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert msg["To"] == "a@example.com"
    assert [a.get_filename() for a in msg.iter_attachments()] == ["executive-summary.pdf"]


def test_missing_pdf_is_a_clear_error(runner, tmp_path, finished_run):
    (finished_run / "pdf" / "executive-summary.pdf").unlink()
    result = invoke(runner, "email", "--run", finished_run, "--to", "a@example.com", "--dry-run")
    assert result.exit_code == 2
    assert "no executive PDF" in result.stderr and "segment-report render" in result.stderr
