"""Typed settings read from ``AMPARO_*`` environment variables.

Only the composition root (``app.py``) reads the environment; every other package receives
values. Secrets have no fallback in code: on the embedded default they are generated once into
the data dir (mode 0600) and reused; bad values stop start-up with a message naming the variable.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from store.live_state import Sentinels


class ConfigurationError(Exception):
    """A setting is missing or malformed; the message names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str = field(repr=False)
    redis_url: str | None = field(repr=False)
    """With ``redis_sentinels``, only its database number, credentials and TLS are used."""
    secret_key: str = field(repr=False)
    data_key: bytes = field(repr=False)
    public_base_url: str
    previous_data_keys: tuple[bytes, ...] = field(default=(), repr=False)
    redis_sentinels: Sentinels | None = field(default=None, repr=False)
    web_host: str = "127.0.0.1"
    web_port: int = 5000
    web_workers: int = 2
    trusted_proxies: int = 0
    metrics_token: str | None = field(default=None, repr=False)
    """Bearer token a Prometheus scraper presents to ``/metrics``; unset, ``/metrics`` is off."""
    file_access_after_call_min: int = 120
    sign_in_per_minute: int = 10
    """Sign-in attempts a minute from one address, whatever the logins (agents behind one NAT
    address share it: raise it for a centre whose shift change signs in more people at once)."""
    default_locale: str = "es"
    simulator_enabled: bool = True
    simulator_note: str = ""
    """Why the simulator is off when it would have been on (said at start and by ``check``)."""
    embedded_public_bind: bool = False
    keys_in_data_dir: tuple[str, ...] = ()
    """Key files read from (or made in) the data dir, beside the data they protect."""
    session_cookie_secure: bool = False
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = field(default=None, repr=False)
    twilio_api_key: str | None = None
    twilio_api_secret: str | None = field(default=None, repr=False)
    twilio_twiml_app_sid: str | None = None
    twilio_api_base_url: str | None = None
    twilio_cps: float = 1.0
    twilio_neutral_caller_id: str | None = None
    fallback_number: str | None = None
    outbound_cps: float = 1.0
    checkin_ring_timeout_s: int = 45
    checkin_caller_id: str | None = None
    log_level: str = "INFO"
    sip_listen: str | None = None
    sip_registrar: str | None = None
    sip_user: str | None = None
    sip_password: str | None = field(default=None, repr=False)
    sip_trunk: str | None = None
    sip_caller_id: str = "anonymous"
    sip_max_calls: int = 480
    sip_workers: int = 8
    sip_process_id: str | None = None
    sip_rtp_port: int = 0
    sip_drain_s: float = 20.0
    sip_tls_listen: str | None = None
    sip_tls_cert: Path | None = None
    sip_tls_key: Path | None = None
    sip_tls_ca: Path | None = None
    sip_srtp: str = "off"
    webrtc_ws_url: str | None = None
    webrtc_secret: str | None = field(default=None, repr=False)
    webrtc_registrar: str | None = None
    webrtc_credential_ttl_s: int = 43200

    @property
    def webrtc_enabled(self) -> bool:
        """Agents answer SIP calls in the browser (JsSIP through Kamailio, docs/sip.md)."""
        return self.webrtc_ws_url is not None

    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def embedded_database(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def embedded_redis(self) -> bool:
        return self.redis_url is None

    @property
    def embedded_default(self) -> bool:
        """SQLite and the embedded Redis: one machine, keys beside the data."""
        return self.embedded_database and self.embedded_redis

    def bind_refusal(self, host: str) -> str | None:
        """Why ``amparo web``/``run`` must not listen on ``host``, or None.

        The embedded default keeps its keys beside the data and carries the simulator; it is
        for one machine. Listening beyond loopback needs ``AMPARO_EMBEDDED_PUBLIC_BIND=on``.
        """
        if not self.embedded_default or is_loopback(host) or self.embedded_public_bind:
            return None
        return (
            f"the embedded default (SQLite, embedded Redis, keys in {self.data_dir}) listens on "
            f"loopback only, not {host}; set AMPARO_DATABASE_URL and AMPARO_REDIS_URL for a "
            "served deployment, or AMPARO_EMBEDDED_PUBLIC_BIND=on to accept the risk"
        )

    def key_warnings(self) -> list[str]:
        """What ``amparo check`` warns about the keys."""
        if not self.keys_in_data_dir:
            return []
        names = " and ".join(self.keys_in_data_dir)
        return [
            f"{names} sit beside the data in {self.data_dir}: a copy of that directory (a "
            "backup, a stolen disk) opens every personal field and signs sessions; keep "
            "AMPARO_SECRET_KEY and AMPARO_DATA_KEY in a secret store instead"
        ]

    @property
    def twilio_configured(self) -> bool:
        """Webhooks can be validated and REST calls made."""
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    def describe(self) -> dict[str, str]:
        """Configuration for humans: no secret value ever appears here."""
        return {
            "AMPARO_DATA_DIR": str(self.data_dir),
            "AMPARO_DATABASE_URL": _without_password(self.database_url),
            "AMPARO_REDIS_URL": (
                _without_password(self.redis_url) if self.redis_url else "(embedded redis-server)"
            ),
            "AMPARO_REDIS_SENTINELS": (
                ",".join(f"{host}:{port}" for host, port in self.redis_sentinels.addresses)
                + f" (primary {self.redis_sentinels.master!r})"
                if self.redis_sentinels
                else "(not set)"
            ),
            "AMPARO_PUBLIC_BASE_URL": self.public_base_url,
            "AMPARO_SECRET_KEY": "(set)",
            "AMPARO_DATA_KEY": "(set)",
            "AMPARO_DATA_KEY_PREVIOUS": f"({len(self.previous_data_keys)} keys)",
            "AMPARO_WEB_HOST": self.web_host,
            "AMPARO_WEB_PORT": str(self.web_port),
            "AMPARO_WEB_WORKERS": str(self.web_workers),
            "AMPARO_TRUSTED_PROXIES": str(self.trusted_proxies),
            "AMPARO_METRICS_TOKEN": "(set)" if self.metrics_token else "(not set: /metrics off)",
            "AMPARO_FILE_ACCESS_AFTER_CALL": f"{self.file_access_after_call_min} min",
            "AMPARO_SIGN_IN_PER_MINUTE": str(self.sign_in_per_minute),
            "AMPARO_DEFAULT_LOCALE": self.default_locale,
            "AMPARO_SIMULATOR": "on" if self.simulator_enabled else f"off {self.simulator_note}",
            "AMPARO_EMBEDDED_PUBLIC_BIND": "on" if self.embedded_public_bind else "off",
            "AMPARO_TWILIO_ACCOUNT_SID": self.twilio_account_sid or "(not set: Twilio off)",
            "AMPARO_TWILIO_CPS": str(self.twilio_cps),
            "AMPARO_TWILIO_NEUTRAL_CALLER_ID": self.twilio_neutral_caller_id or "(not set)",
            "AMPARO_FALLBACK_NUMBER": self.fallback_number or "(not set)",
            "AMPARO_OUTBOUND_CPS": str(self.outbound_cps),
            "AMPARO_CHECKIN_RING_TIMEOUT": str(self.checkin_ring_timeout_s),
            "AMPARO_CHECKIN_CALLER_ID": self.checkin_caller_id or "(the edge's default number)",
            "AMPARO_LOG_LEVEL": self.log_level,
            "AMPARO_SIP_LISTEN": self.sip_listen or "(not set: SIP off)",
            "AMPARO_SIP_REGISTRAR": self.sip_registrar or "(no registration)",
            "AMPARO_SIP_USER": self.sip_user or "(not set)",
            "AMPARO_SIP_PASSWORD": "(set)" if self.sip_password else "(not set)",
            "AMPARO_SIP_TRUNK": self.sip_trunk or "(registrar host, if any)",
            "AMPARO_SIP_CALLER_ID": self.sip_caller_id,
            "AMPARO_SIP_MAX_CALLS": str(self.sip_max_calls),
            "AMPARO_SIP_WORKERS": str(self.sip_workers),
            "AMPARO_SIP_PROCESS_ID": self.sip_process_id or "(host:port)",
            "AMPARO_SIP_RTP_PORT": str(self.sip_rtp_port or "(any free)"),
            "AMPARO_SIP_DRAIN_SECONDS": str(self.sip_drain_s),
            "AMPARO_SIP_TLS_LISTEN": self.sip_tls_listen or "(not set: no SIP over TLS)",
            "AMPARO_SIP_TLS_CERT": str(self.sip_tls_cert or "(not set)"),
            "AMPARO_SIP_TLS_KEY": "(set)" if self.sip_tls_key else "(not set)",
            "AMPARO_SIP_TLS_CA": str(self.sip_tls_ca or "(peers' certificates not verified)"),
            "AMPARO_SIP_SRTP": self.sip_srtp,
            "AMPARO_WEBRTC_WS_URL": self.webrtc_ws_url or "(not set: no browser phone for SIP)",
            "AMPARO_WEBRTC_SECRET": "(set)" if self.webrtc_secret else "(not set)",
            "AMPARO_WEBRTC_REGISTRAR": self.webrtc_registrar or "(not set)",
            "AMPARO_WEBRTC_CREDENTIAL_TTL": str(self.webrtc_credential_ttl_s),
        }

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def is_loopback(host: str) -> bool:
    """``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    name = host.strip().strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _simulator(env: Mapping[str, str], embedded_default: bool, host: str) -> tuple[bool, str]:
    """On when asked for; unset, on only for the embedded default on loopback (anyone who
    reaches the simulator can place calls into the lines and press a device's panic button)."""
    if (env.get("AMPARO_SIMULATOR") or "").strip():
        return _bool(env, "AMPARO_SIMULATOR", False), "(AMPARO_SIMULATOR=off)"
    if not embedded_default:
        return False, "(not the embedded default: set AMPARO_SIMULATOR=on to use it)"
    if not is_loopback(host):
        return False, f"(bound to {host}, not loopback: set AMPARO_SIMULATOR=on to use it)"
    return True, ""


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


def _read_or_create_secret(path: Path, nbytes: int) -> bytes:
    """Return the key stored at ``path``, creating it (mode 0600) on first start."""
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise ConfigurationError(
                "AMPARO_DATA_DIR", f"{path} is readable by others (mode {oct(mode)}); chmod 600 it"
            )
        raw = path.read_bytes().strip()
        try:
            value = base64.urlsafe_b64decode(raw)
        except ValueError as exc:
            raise ConfigurationError("AMPARO_DATA_DIR", f"{path} is not a valid key file") from exc
        if len(value) != nbytes:
            raise ConfigurationError("AMPARO_DATA_DIR", f"{path} holds a key of the wrong size")
        return value
    value = secrets.token_bytes(nbytes)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(base64.urlsafe_b64encode(value) + b"\n")
    return value


def _data_key(raw: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(raw.strip() + "=" * (-len(raw.strip()) % 4))
    except ValueError as exc:
        raise ConfigurationError("AMPARO_DATA_KEY", "must be urlsafe base64 of 32 bytes") from exc
    if len(key) != 32:
        raise ConfigurationError("AMPARO_DATA_KEY", "must be urlsafe base64 of exactly 32 bytes")
    return key


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigurationError(name, f"must be a whole number, got {raw!r}") from exc
    if not low <= value <= high:
        raise ConfigurationError(name, f"must be between {low} and {high}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigurationError(name, f"must be a number, got {raw!r}") from exc
    if not low <= value <= high:
        raise ConfigurationError(name, f"must be between {low} and {high}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigurationError(name, f"must be on/off (1/0, true/false), got {raw!r}")


def _url(env: Mapping[str, str], name: str, schemes: tuple[str, ...]) -> str | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    scheme = urlsplit(raw).scheme.split("+")[0]
    if scheme not in schemes:
        raise ConfigurationError(name, f"scheme must be one of {', '.join(schemes)}")
    return raw.strip()


def _phone_number(env: Mapping[str, str], name: str) -> str | None:
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    if not re.fullmatch(r"\+[1-9][0-9]{6,14}", raw):
        raise ConfigurationError(name, "must be a phone number in E.164 form, e.g. +34900000000")
    return raw


def _host_port(env: Mapping[str, str], name: str) -> str | None:
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    host, _, port = raw.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigurationError(name, f"must be host:port, got {raw!r}")
    return raw


def _sentinels(env: Mapping[str, str]) -> Sentinels | None:
    raw = (env.get("AMPARO_REDIS_SENTINELS") or "").strip()
    if not raw:
        return None
    addresses = []
    for item in raw.split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigurationError(
                "AMPARO_REDIS_SENTINELS", f"must be host:port[,host:port...], got {item!r}"
            )
        addresses.append((host.strip("[]"), int(port)))
    master = (env.get("AMPARO_REDIS_SENTINEL_MASTER") or "amparo").strip()
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", master):
        raise ConfigurationError(
            "AMPARO_REDIS_SENTINEL_MASTER", f"not a primary's name: {master!r}"
        )
    password = env.get("AMPARO_REDIS_SENTINEL_PASSWORD") or None
    return Sentinels(tuple(addresses), master, password)


def _file(env: Mapping[str, str], name: str) -> Path | None:
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    path = Path(raw)
    if not path.is_file():
        raise ConfigurationError(name, f"no such file: {raw}")
    return path


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    raw = (env.get(name) or "").strip().lower() or default
    if raw not in choices:
        raise ConfigurationError(name, f"must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def _sip_uri(env: Mapping[str, str], name: str) -> str | None:
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    if not raw.startswith(("sip:", "sips:")):
        raise ConfigurationError(name, f"must be a sip: URI, got {raw!r}")
    return raw


SUPPORTED_LOCALES = ("es", "en", "fr", "ar", "ro", "pt", "ca", "eu", "gl", "zh", "uk", "ru")


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate settings; raise ConfigurationError naming the bad variable."""
    env = os.environ if environ is None else environ
    data_dir = Path(env.get("AMPARO_DATA_DIR") or "var").resolve()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(data_dir, 0o700)
    except OSError as exc:
        raise ConfigurationError("AMPARO_DATA_DIR", f"cannot use {data_dir}: {exc}") from exc

    database_url = _url(env, "AMPARO_DATABASE_URL", ("sqlite", "postgresql"))
    embedded_db = database_url is None
    if database_url is None:
        database_url = f"sqlite:///{data_dir / 'amparo.sqlite3'}"
    redis_url = _url(env, "AMPARO_REDIS_URL", ("redis", "rediss", "unix"))
    redis_sentinels = _sentinels(env)
    if redis_sentinels is not None:
        if redis_url is not None and redis_url.startswith("unix"):
            raise ConfigurationError(
                "AMPARO_REDIS_URL", "must be redis:// or rediss:// with AMPARO_REDIS_SENTINELS"
            )
        redis_url = redis_url or "redis://sentinel-primary/0"

    keys_in_data_dir: list[str] = []
    secret_raw = env.get("AMPARO_SECRET_KEY")
    data_key_raw = env.get("AMPARO_DATA_KEY")
    if secret_raw:
        if len(secret_raw) < 32:
            raise ConfigurationError("AMPARO_SECRET_KEY", "must be at least 32 characters")
        secret_key = secret_raw
    elif embedded_db:
        secret_key = base64.urlsafe_b64encode(
            _read_or_create_secret(data_dir / "secret_key", 32)
        ).decode()
        keys_in_data_dir.append("secret_key")
    else:
        raise ConfigurationError(
            "AMPARO_SECRET_KEY", "required when AMPARO_DATABASE_URL names an external database"
        )
    if data_key_raw:
        data_key = _data_key(data_key_raw)
    elif embedded_db:
        data_key = _read_or_create_secret(data_dir / "data_key", 32)
        keys_in_data_dir.append("data_key")
    else:
        raise ConfigurationError(
            "AMPARO_DATA_KEY", "required when AMPARO_DATABASE_URL names an external database"
        )

    previous_raw = env.get("AMPARO_DATA_KEY_PREVIOUS") or ""
    try:
        previous_data_keys = tuple(_data_key(k) for k in previous_raw.split(",") if k.strip())
    except ConfigurationError as exc:
        raise ConfigurationError("AMPARO_DATA_KEY_PREVIOUS", str(exc).split(": ", 1)[1]) from exc

    web_port = _int(env, "AMPARO_WEB_PORT", 5000, 1, 65535)
    web_host = env.get("AMPARO_WEB_HOST") or "127.0.0.1"
    public_base_url = _url(env, "AMPARO_PUBLIC_BASE_URL", ("http", "https")) or (
        f"http://{web_host}:{web_port}"
    )
    default_locale = env.get("AMPARO_DEFAULT_LOCALE") or "es"
    if default_locale not in SUPPORTED_LOCALES:
        raise ConfigurationError(
            "AMPARO_DEFAULT_LOCALE", f"must be one of {', '.join(SUPPORTED_LOCALES)}"
        )
    caller_id = _phone_number(env, "AMPARO_CHECKIN_CALLER_ID")
    twilio_account_sid = env.get("AMPARO_TWILIO_ACCOUNT_SID") or None
    fallback_number = _phone_number(env, "AMPARO_FALLBACK_NUMBER")
    if twilio_account_sid and fallback_number is None:
        raise ConfigurationError(
            "AMPARO_FALLBACK_NUMBER",
            "required with Twilio: the number callers are sent to when nothing else answers",
        )
    metrics_token = env.get("AMPARO_METRICS_TOKEN") or None
    if metrics_token is not None and len(metrics_token) < 24:
        raise ConfigurationError("AMPARO_METRICS_TOKEN", "must be at least 24 characters")
    log_level = (env.get("AMPARO_LOG_LEVEL") or "INFO").upper()
    if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigurationError("AMPARO_LOG_LEVEL", "must be DEBUG, INFO, WARNING or ERROR")

    simulator_enabled, simulator_note = _simulator(env, embedded_db and redis_url is None, web_host)
    sip_tls_listen = _host_port(env, "AMPARO_SIP_TLS_LISTEN")
    if sip_tls_listen and not (env.get("AMPARO_SIP_TLS_CERT") and env.get("AMPARO_SIP_TLS_KEY")):
        raise ConfigurationError(
            "AMPARO_SIP_TLS_CERT",
            "AMPARO_SIP_TLS_CERT and _KEY are needed with AMPARO_SIP_TLS_LISTEN",
        )
    webrtc_ws_url = _url(env, "AMPARO_WEBRTC_WS_URL", ("ws", "wss"))
    webrtc_secret = env.get("AMPARO_WEBRTC_SECRET") or None
    if webrtc_ws_url and (webrtc_secret is None or len(webrtc_secret) < 32):
        raise ConfigurationError(
            "AMPARO_WEBRTC_SECRET", "must be set, at least 32 characters, with AMPARO_WEBRTC_WS_URL"
        )

    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        redis_url=redis_url,
        redis_sentinels=redis_sentinels,
        secret_key=secret_key,
        data_key=data_key,
        public_base_url=public_base_url.rstrip("/"),
        previous_data_keys=previous_data_keys,
        web_host=web_host,
        web_port=web_port,
        web_workers=_int(env, "AMPARO_WEB_WORKERS", 2, 1, 64),
        trusted_proxies=_int(env, "AMPARO_TRUSTED_PROXIES", 0, 0, 5),
        metrics_token=metrics_token,
        file_access_after_call_min=_int(env, "AMPARO_FILE_ACCESS_AFTER_CALL", 120, 0, 24 * 60),
        sign_in_per_minute=_int(env, "AMPARO_SIGN_IN_PER_MINUTE", 10, 1, 10_000),
        default_locale=default_locale,
        simulator_enabled=simulator_enabled,
        simulator_note=simulator_note,
        embedded_public_bind=_bool(env, "AMPARO_EMBEDDED_PUBLIC_BIND", False),
        keys_in_data_dir=tuple(keys_in_data_dir),
        session_cookie_secure=_bool(
            env, "AMPARO_SESSION_COOKIE_SECURE", public_base_url.startswith("https")
        ),
        twilio_account_sid=twilio_account_sid,
        twilio_auth_token=env.get("AMPARO_TWILIO_AUTH_TOKEN") or None,
        twilio_api_key=env.get("AMPARO_TWILIO_API_KEY") or None,
        twilio_api_secret=env.get("AMPARO_TWILIO_API_SECRET") or None,
        twilio_twiml_app_sid=env.get("AMPARO_TWILIO_TWIML_APP_SID") or None,
        twilio_api_base_url=_url(env, "AMPARO_TWILIO_API_BASE_URL", ("http", "https")),
        twilio_cps=_float(env, "AMPARO_TWILIO_CPS", 1.0, 0.01, 1000.0),
        twilio_neutral_caller_id=_phone_number(env, "AMPARO_TWILIO_NEUTRAL_CALLER_ID"),
        fallback_number=fallback_number,
        outbound_cps=_float(env, "AMPARO_OUTBOUND_CPS", 1.0, 0.01, 1000.0),
        checkin_ring_timeout_s=_int(env, "AMPARO_CHECKIN_RING_TIMEOUT", 45, 10, 300),
        checkin_caller_id=caller_id,
        log_level=log_level,
        sip_listen=_host_port(env, "AMPARO_SIP_LISTEN"),
        sip_registrar=_sip_uri(env, "AMPARO_SIP_REGISTRAR"),
        sip_user=env.get("AMPARO_SIP_USER") or None,
        sip_password=env.get("AMPARO_SIP_PASSWORD") or None,
        sip_trunk=_host_port(env, "AMPARO_SIP_TRUNK"),
        sip_caller_id=env.get("AMPARO_SIP_CALLER_ID") or "anonymous",
        sip_max_calls=_int(env, "AMPARO_SIP_MAX_CALLS", 480, 1, 100_000),
        sip_workers=_int(env, "AMPARO_SIP_WORKERS", 8, 1, 256),
        sip_process_id=env.get("AMPARO_SIP_PROCESS_ID") or None,
        sip_rtp_port=_int(env, "AMPARO_SIP_RTP_PORT", 0, 0, 65000),
        sip_drain_s=_float(env, "AMPARO_SIP_DRAIN_SECONDS", 20.0, 0.0, 3600.0),
        sip_tls_listen=sip_tls_listen,
        sip_tls_cert=_file(env, "AMPARO_SIP_TLS_CERT"),
        sip_tls_key=_file(env, "AMPARO_SIP_TLS_KEY"),
        sip_tls_ca=_file(env, "AMPARO_SIP_TLS_CA"),
        sip_srtp=_choice(env, "AMPARO_SIP_SRTP", ("off", "optional", "mandatory"), "off"),
        webrtc_ws_url=webrtc_ws_url,
        webrtc_secret=webrtc_secret,
        webrtc_registrar=_host_port(env, "AMPARO_WEBRTC_REGISTRAR"),
        webrtc_credential_ttl_s=_int(env, "AMPARO_WEBRTC_CREDENTIAL_TTL", 43200, 300, 86400),
    )
