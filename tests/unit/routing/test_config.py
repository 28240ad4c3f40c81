"""Configuration as data, validated when built."""

from __future__ import annotations

import pytest

from routing import RouterConfig
from routing.errors import ConfigurationInvalid
from routing.priority import base_priority, overtaking_window
from store.vocabulary import RiskLevel


def test_config_from_dict_builds_queues_teams_and_backups() -> None:
    config = RouterConfig.from_dict(
        {
            "queues": [
                {
                    "queue_id": "016",
                    "max_wait_seconds": 300,
                    "widening": [{"after_seconds": 45, "drop_language": True}],
                    "urgent_team": "urgent",
                }
            ],
            "teams": [
                {
                    "team_id": "urgent",
                    "tiers": [
                        {"members": ["m1", "m2"], "delay_seconds": 30},
                        {"members": ["m3"], "delay_seconds": 60},
                    ],
                }
            ],
            "backup_targets": {"line-016": "backup-centre"},
            "offer_timeout_seconds": 20,
        }
    )
    assert config.queue("016").widening[0].after_seconds == 45
    assert config.queue("016").urgent_team == "urgent"
    assert config.queue("other").max_wait_seconds == 900
    assert config.backup_target("line-016") == "backup-centre"
    assert config.offer_timeout_seconds == 20
    assert config.teams["urgent"].tiers[1].members == ("m3",)


def test_a_queue_naming_an_unknown_team_is_refused() -> None:
    with pytest.raises(ConfigurationInvalid):
        RouterConfig.from_dict({"queues": [{"queue_id": "q", "urgent_team": "ghost"}]})


def test_a_priority_table_that_falls_as_risk_rises_is_refused() -> None:
    table = {level: 10 * (5 - level.rank) for level in RiskLevel}
    with pytest.raises(ConfigurationInvalid):
        RouterConfig(priority_by_risk=table)


def test_supplied_priority_only_ever_raises_the_risk_default() -> None:
    table = RouterConfig().priority_by_risk
    assert base_priority(RiskLevel.ALTO, None, table) == 360
    assert base_priority(RiskLevel.ALTO, 5, table) == 360
    assert base_priority(RiskLevel.ALTO, 999, table) == 999


def test_default_overtaking_windows() -> None:
    table = RouterConfig().priority_by_risk
    assert overtaking_window(table[RiskLevel.NO_APRECIADO], table[RiskLevel.EXTREMO], 1.0) == 600
    assert overtaking_window(table[RiskLevel.BAJO], table[RiskLevel.ALTO], 1.0) == 300
    assert overtaking_window(table[RiskLevel.ALTO], table[RiskLevel.BAJO], 1.0) == 0
