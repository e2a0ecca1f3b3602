"""E-mail delivery of a run: the executive PDF attached, an HTML + plain-text summary.

Headers are checked before anything is built: a newline or other control character in a
subject, name or address is header injection and is refused. Sending retries with
exponential backoff; every failure says what went wrong and ends in exit code 4.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any

from segment_report.pipeline.config import EmailConfig
from segment_report.pipeline.errors import ConfigError, DeliveryError, InputDataError
from segment_report.pipeline.log import logger
from segment_report.pipeline.io.store import RunResults, load_results
from segment_report.reports.env import render
from segment_report.reports.model import Report, report_for

EXECUTIVE_PDF = Path("pdf") / "executive-summary.pdf"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$")


def check_header(value: str, what: str) -> str:
    """Refuse header injection: any newline or control character in a header value."""
    if _CONTROL.search(value):
        raise ConfigError(f"{what} contains a line break or control character (header injection refused)",
                          expected=f"a single-line {what}", fix=f"remove line breaks from the {what}")
    return value


def check_address(value: str, what: str = "address") -> str:
    """A plain ``name@domain`` address (optionally ``Name <name@domain>``), injection-free."""
    check_header(value, what)
    name, addr = parseaddr(value)
    if not addr or not _ADDRESS.match(addr) or value.count("@") != 1:
        raise ConfigError(f"{what} {value!r} is not a valid e-mail address",
                          expected="an address like analyst@example.com",
                          fix=f"correct the {what}")
    return value


def smtp_settings(cfg: EmailConfig) -> EmailConfig:
    """Config with SEGMENT_REPORT_SMTP_* environment variables applied on top."""
    env = {"smtp_host": "SEGMENT_REPORT_SMTP_HOST", "smtp_port": "SEGMENT_REPORT_SMTP_PORT",
           "smtp_user": "SEGMENT_REPORT_SMTP_USER", "from_address": "SEGMENT_REPORT_SMTP_FROM",
           "tls": "SEGMENT_REPORT_SMTP_TLS"}
    updates: dict[str, Any] = {k: os.environ[v] for k, v in env.items() if os.environ.get(v)}
    if not updates:
        return cfg
    try:
        return EmailConfig.model_validate({**cfg.model_dump(), **updates})
    except Exception as exc:  # pydantic ValidationError: name the variable
        raise ConfigError(f"invalid SMTP setting in the environment: {exc}",
                          expected="SEGMENT_REPORT_SMTP_PORT a number, _TLS one of starttls/ssl/none",
                          fix="correct the SEGMENT_REPORT_SMTP_* variables") from None


def read_password(cfg: EmailConfig) -> str | None:
    """The SMTP password from the environment variable or the password file (never a flag)."""
    if os.environ.get(cfg.password_env):
        return os.environ[cfg.password_env]
    if cfg.password_file is not None:
        try:
            return Path(cfg.password_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read the SMTP password file: {exc.strerror}",
                              file=str(cfg.password_file), expected="a readable file holding the password",
                              fix="check email.password_file and its permissions") from None
    return None


@dataclass(frozen=True)
class Outgoing:
    """A built message and what it carries."""

    message: EmailMessage
    recipients: tuple[str, ...]
    attachments: tuple[Path, ...]


def build_message(results: RunResults, recipients: tuple[str, ...], cfg: EmailConfig) -> Outgoing:
    """Build the e-mail for a finished run: subject, HTML + text body, PDF attachment(s);
    amounts in the run's currency symbol.

    Raises:
        ConfigError: no recipients, an invalid address or header injection.
        InputDataError: the run folder has no executive PDF.
    """
    with report_for(results) as report:
        return _build_message(report, recipients, cfg)


def _build_message(report: Report, recipients: tuple[str, ...], cfg: EmailConfig) -> Outgoing:
    recipients = tuple(recipients) or cfg.to
    if not recipients:
        raise ConfigError("no recipients", expected="--to ADDRESS (repeatable) or email.to in the config",
                          fix="segment-report email --run DIR --to analyst@example.com")
    for address in recipients:
        check_address(address, "recipient")
    check_address(cfg.from_address, "from-address")
    results, site = report.results, report.site
    subject = check_header(cfg.subject.replace("{period}", site.period_label), "subject")
    root = results.folder.root
    pdf = root / EXECUTIVE_PDF
    if not pdf.exists():
        raise InputDataError("the run has no executive PDF to send", file=str(pdf),
                             expected="pdf/executive-summary.pdf in the run folder",
                             fix=f"segment-report render --run {root} --format pdf")
    attachments = [pdf]
    if cfg.attach_personas:
        attachments += sorted((root / "pdf" / "personas").glob("*.pdf"))
    personas = [p["one_liner"] for p in report.personas]
    changes = report.changes
    context = {"site": site, "personas": personas, "changes": changes["bullets"],
               "since": changes.get("previous_label", ""),
               "site_location": cfg.site_url or str((root / "site" / "index.html").resolve()),
               "attachments": [p.name for p in attachments]}
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = cfg.from_address
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=Address(addr_spec=parseaddr(cfg.from_address)[1]).domain)
    msg.set_content(render("email/body.txt", **context))
    msg.add_alternative(render("email/body.html", **context), subtype="html")
    for path in attachments:
        msg.add_attachment(path.read_bytes(), maintype="application", subtype="pdf", filename=path.name)
    return Outgoing(msg, recipients, tuple(attachments))


def write_eml(outgoing: Outgoing, path: Path) -> Path:
    """``--dry-run``: write the message as an .eml file instead of sending it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(outgoing.message))
    return path


def send(outgoing: Outgoing, cfg: EmailConfig, password: str | None = None,
         sleep=time.sleep) -> None:
    """Send by SMTP with timeouts and retries (exponential backoff).

    Raises:
        DeliveryError: every attempt failed (exit code 4); the message names the last failure.
    """
    attempts = cfg.retries + 1
    last = ""
    for attempt in range(1, attempts + 1):
        try:
            _send_once(outgoing, cfg, password)
            logger.info("e-mail sent to %s via %s:%s", ", ".join(outgoing.recipients),
                        cfg.smtp_host, cfg.smtp_port)
            return
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"the SMTP server refused the login ({exc.smtp_code})",
                                expected=f"valid credentials for {cfg.smtp_user}",
                                fix=f"check email.smtp_user and the password in ${cfg.password_env}") from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"the SMTP server refused the recipients {sorted(exc.recipients)}",
                                fix="check the addresses") from None
        except (OSError, smtplib.SMTPException) as exc:
            last = f"{type(exc).__name__}: {exc}"
            if attempt < attempts:
                delay = cfg.backoff_s * 2 ** (attempt - 1)
                logger.warning("sending failed (attempt %d of %d: %s); retrying in %.1f s",
                               attempt, attempts, last, delay)
                sleep(delay)
    raise DeliveryError(
        f"could not send the e-mail via {cfg.smtp_host}:{cfg.smtp_port} after {attempts} attempts ({last})",
        expected="a reachable SMTP server",
        fix="check email.smtp_host / smtp_port / tls, or use --dry-run to write the .eml file")


def deliver(run_dir: Path, cfg: EmailConfig, recipients: tuple[str, ...] = (), dry_run: bool = False,
            eml_path: Path | None = None) -> str:
    """Build and send (or, with ``dry_run``, write as .eml) a run's e-mail; returns what was done.

    Used by ``segment-report email`` and ``segment-report run --email``.
    """
    settings = smtp_settings(cfg)
    outgoing = build_message(load_results(run_dir), recipients, settings)
    if dry_run:
        path = write_eml(outgoing, eml_path or Path(run_dir) / "email" / "message.eml")
        return f"dry run: wrote {path} (to {', '.join(outgoing.recipients)})"
    send(outgoing, settings, read_password(settings))
    return f"sent to {', '.join(outgoing.recipients)} via {settings.smtp_host}:{settings.smtp_port}"


def _send_once(outgoing: Outgoing, cfg: EmailConfig, password: str | None) -> None:
    context = ssl.create_default_context()
    if cfg.tls == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(cfg.smtp_host, cfg.smtp_port, timeout=cfg.timeout_s,
                                                context=context)
    else:
        client = smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=cfg.timeout_s)
    with client:
        client.ehlo_or_helo_if_needed()
        if cfg.tls == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if cfg.smtp_user:
            client.login(cfg.smtp_user, password or "")
        client.send_message(outgoing.message, to_addrs=list(outgoing.recipients))

