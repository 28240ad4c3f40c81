import base64
import stat
from pathlib import Path

import pytest

from settings import ConfigurationError, load_settings

PUBLIC = "0.0.0.0"  # noqa: S104 (a bind these tests refuse)


def test_given_no_keys_on_the_embedded_default_then_keys_are_generated_0600_and_reused(
    tmp_path: Path,
) -> None:
    first = load_settings({"AMPARO_DATA_DIR": str(tmp_path)})
    for name in ("secret_key", "data_key"):
        mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
        assert mode == 0o600
    second = load_settings({"AMPARO_DATA_DIR": str(tmp_path)})
    assert first.secret_key == second.secret_key
    assert first.data_key == second.data_key
    assert len(first.data_key) == 32


def test_given_an_external_database_without_keys_then_start_up_names_the_variable(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigurationError) as err:
        load_settings(
            {"AMPARO_DATA_DIR": str(tmp_path), "AMPARO_DATABASE_URL": "postgresql://db/x"}
        )
    assert err.value.variable == "AMPARO_SECRET_KEY"
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AMPARO_DATABASE_URL", "mysql://x/y"),
        ("AMPARO_REDIS_URL", "http://localhost"),
        ("AMPARO_WEB_PORT", "seventy"),
        ("AMPARO_WEB_PORT", "70000"),
        ("AMPARO_DATA_KEY", "c2hvcnQ="),
        ("AMPARO_SECRET_KEY", "too-short"),
        ("AMPARO_DEFAULT_LOCALE", "xx"),
        ("AMPARO_SIMULATOR", "maybe"),
        ("AMPARO_TWILIO_CPS", "0"),
        ("AMPARO_PUBLIC_BASE_URL", "ftp://example"),
        ("AMPARO_DATA_KEY_PREVIOUS", "bm90LWEta2V5"),
        ("AMPARO_REDIS_SENTINELS", "10.0.0.1"),
        ("AMPARO_REDIS_SENTINELS", "10.0.0.1:26379,10.0.0.2:port"),
    ],
)
def test_given_a_bad_value_then_the_error_names_the_variable(
    tmp_path: Path, variable: str, value: str
) -> None:
    with pytest.raises(ConfigurationError) as err:
        load_settings({"AMPARO_DATA_DIR": str(tmp_path), variable: value})
    assert err.value.variable == variable
    assert variable in str(err.value)


def test_given_a_key_file_readable_by_others_then_start_up_refuses(tmp_path: Path) -> None:
    load_settings({"AMPARO_DATA_DIR": str(tmp_path)})
    (tmp_path / "data_key").chmod(0o644)
    with pytest.raises(ConfigurationError, match="readable by others"):
        load_settings({"AMPARO_DATA_DIR": str(tmp_path)})


def test_describe_never_prints_secrets(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "AMPARO_DATA_DIR": str(tmp_path),
            "AMPARO_DATABASE_URL": "postgresql+psycopg://amparo:hunter2@db/amparo",
            "AMPARO_SECRET_KEY": "s" * 40,
            "AMPARO_DATA_KEY": "A" * 43,
            "AMPARO_TWILIO_AUTH_TOKEN": "tok-secret",
        }
    )
    shown = " ".join(settings.describe().values()) + repr(settings)
    for secret in ("hunter2", "s" * 40, "A" * 43, "tok-secret"):
        assert secret not in shown


@pytest.mark.parametrize(
    ("env", "on"),
    [
        ({}, True),
        ({"AMPARO_WEB_HOST": PUBLIC}, False),
        ({"AMPARO_WEB_HOST": PUBLIC, "AMPARO_SIMULATOR": "on"}, True),
        ({"AMPARO_WEB_HOST": "::1"}, True),
        ({"AMPARO_SIMULATOR": "off"}, False),
        ({"AMPARO_REDIS_URL": "redis://r:6379/0"}, False),
        ({"AMPARO_REDIS_URL": "redis://r:6379/0", "AMPARO_SIMULATOR": "on"}, True),
    ],
)
def test_the_simulator_is_on_only_when_asked_or_on_the_embedded_default_on_loopback(
    tmp_path: Path, env: dict[str, str], on: bool
) -> None:
    settings = load_settings({"AMPARO_DATA_DIR": str(tmp_path), **env})
    assert settings.simulator_enabled is on
    if not on and "AMPARO_SIMULATOR" not in env:
        assert "set AMPARO_SIMULATOR=on" in settings.describe()["AMPARO_SIMULATOR"]


def test_the_embedded_default_refuses_a_public_bind_unless_told(tmp_path: Path) -> None:
    embedded = load_settings({"AMPARO_DATA_DIR": str(tmp_path)})
    assert embedded.bind_refusal("127.0.0.1") is None
    assert embedded.bind_refusal("localhost") is None
    refusal = embedded.bind_refusal(PUBLIC)
    assert refusal is not None and "AMPARO_EMBEDDED_PUBLIC_BIND=on" in refusal
    told = load_settings({"AMPARO_DATA_DIR": str(tmp_path), "AMPARO_EMBEDDED_PUBLIC_BIND": "on"})
    assert told.bind_refusal(PUBLIC) is None
    served = load_settings({"AMPARO_DATA_DIR": str(tmp_path), "AMPARO_REDIS_URL": "redis://r/0"})
    assert served.bind_refusal(PUBLIC) is None


def test_keys_beside_the_data_are_warned_about(tmp_path: Path) -> None:
    embedded = load_settings({"AMPARO_DATA_DIR": str(tmp_path)})
    [warning] = embedded.key_warnings()
    assert "secret_key and data_key sit beside the data" in warning
    assert str(tmp_path) in warning
    kept_apart = load_settings(
        {
            "AMPARO_DATA_DIR": str(tmp_path),
            "AMPARO_SECRET_KEY": "k" * 40,
            "AMPARO_DATA_KEY": base64.urlsafe_b64encode(bytes(32)).decode(),
        }
    )
    assert kept_apart.key_warnings() == []


def test_sip_over_tls_needs_a_certificate_and_its_key_and_srtp_is_off_optional_or_mandatory(
    tmp_path: Path,
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("x")
    key.write_text("x")
    base = {"AMPARO_DATA_DIR": str(tmp_path)}
    with pytest.raises(ConfigurationError, match="AMPARO_SIP_TLS_CERT"):
        load_settings({**base, "AMPARO_SIP_TLS_LISTEN": "127.0.0.1:5061"})
    with pytest.raises(ConfigurationError, match="AMPARO_SIP_TLS_KEY"):
        load_settings(
            {
                **base,
                "AMPARO_SIP_TLS_LISTEN": "127.0.0.1:5061",
                "AMPARO_SIP_TLS_CERT": str(cert),
                "AMPARO_SIP_TLS_KEY": str(tmp_path / "missing.pem"),
            }
        )
    with pytest.raises(ConfigurationError, match="AMPARO_SIP_SRTP"):
        load_settings({**base, "AMPARO_SIP_SRTP": "sometimes"})

    settings = load_settings(
        {
            **base,
            "AMPARO_SIP_TLS_LISTEN": "127.0.0.1:5061",
            "AMPARO_SIP_TLS_CERT": str(cert),
            "AMPARO_SIP_TLS_KEY": str(key),
            "AMPARO_SIP_SRTP": "Optional",
        }
    )
    assert (settings.sip_tls_listen, settings.sip_tls_key, settings.sip_srtp) == (
        "127.0.0.1:5061",
        key,
        "optional",
    )
    assert str(key) not in str(settings.describe())


def test_redis_under_sentinel_is_read_from_the_sentinels_and_the_primary_name(
    tmp_path: Path,
) -> None:
    settings = load_settings(
        {
            "AMPARO_DATA_DIR": str(tmp_path),
            "AMPARO_REDIS_SENTINELS": "10.0.0.1:26379, 10.0.0.2:26379,[fd00::3]:26380",
            "AMPARO_REDIS_SENTINEL_MASTER": "hotline-redis",
            "AMPARO_REDIS_SENTINEL_PASSWORD": "sentinel-secret",
        }
    )
    assert settings.redis_sentinels is not None
    assert settings.redis_sentinels.addresses == (
        ("10.0.0.1", 26379),
        ("10.0.0.2", 26379),
        ("fd00::3", 26380),
    )
    assert settings.redis_sentinels.master == "hotline-redis"
    assert not settings.embedded_redis  # never an embedded server beside the sentinels
    described = settings.describe()
    assert "hotline-redis" in described["AMPARO_REDIS_SENTINELS"]
    assert "sentinel-secret" not in str(described)
    assert "sentinel-secret" not in repr(settings)
    assert "sentinel-secret" not in repr(settings.redis_sentinels)


def test_redis_under_sentinel_takes_the_urls_database_and_refuses_a_unix_socket(
    tmp_path: Path,
) -> None:
    env = {"AMPARO_DATA_DIR": str(tmp_path), "AMPARO_REDIS_SENTINELS": "10.0.0.1:26379"}
    default = load_settings(env)
    assert default.redis_sentinels is not None and default.redis_sentinels.master == "amparo"
    assert default.redis_url is not None and default.redis_url.endswith("/0")
    chosen = load_settings({**env, "AMPARO_REDIS_URL": "rediss://:pw@ignored:1/3"})
    assert chosen.redis_url == "rediss://:pw@ignored:1/3"
    for variable, value in (
        ("AMPARO_REDIS_URL", "unix:///run/redis.sock"),
        ("AMPARO_REDIS_SENTINEL_MASTER", "no spaces"),
    ):
        with pytest.raises(ConfigurationError) as err:
            load_settings({**env, variable: value})
        assert err.value.variable == variable
