"""Reading a hotline file with no database: normalized values, and every problem with where it
is."""

from __future__ import annotations

from pathlib import Path

from hotline_config.document import read_document
from hotline_config.export import toml_value

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "hotline.example.toml"


def test_the_documented_example_file_is_valid() -> None:
    document, problems = read_document(EXAMPLE.read_text(encoding="utf-8"), EXAMPLE.name)
    assert problems == []
    assert [line.number for line in document.lines] == ["+34900555010"]
    assert document.teams[0].line_number == "+34900555010"
    assert {agent.values["role"] for agent in document.agents} == {"agent", "supervisor"}


def test_numbers_are_normalized_and_left_out_keys_are_not_values() -> None:
    document, problems = read_document(
        '[[agents]]\nlogin = "eva"\ndisplay_name = "Eva"\nrole = "agent"\n'
        '[[teams]]\nname = "T"\nline = "+34 900 555 010"\n'
    )
    assert problems == []
    assert document.agents[0].values == {"login": "eva", "display_name": "Eva", "role": "agent"}
    assert document.teams[0].line_number == "+34900555010"
    assert document.teams[0].members is None  # members not mentioned: left as stored


def test_every_problem_is_reported_with_the_line_of_its_table() -> None:
    text = (
        "[[lines]]\n"  # 1
        'name = "L"\n'
        'number = "900 555 010"\n'
        'default_locale = "es"\n'
        'overflow_number = "+34900555010"\n'
        'urgent_number = "+34900555012"\n'
        "\n"
        "[[agents]]\n"  # 8
        'login = "eva"\n'
        'display_name = "Eva"\n'
        'role = "agent"\n'
        "active = false\n"
        "\n"
        "[[teams]]\n"  # 14
        'name = "T"\n'
        'members = [{ login = "eva", tier = 1 }, { login = "eva" }]\n'
        "shifts = 3\n"
    )
    _, problems = read_document(text, "h.toml")
    found = sorted(str(problem) for problem in problems)
    assert found == sorted(
        [
            'h.toml:1: lines[0] (name "L"): number must be in international form, starting '
            "with '+' and the country code",
            "h.toml:14: teams[0] (name \"T\"): unknown key 'shifts' (allowed: name, line, "
            "tier_delays_s, members)",
            "h.toml:14: teams[0] (name \"T\"): member 'eva' is already declared at h.toml:14: "
            'teams[0] (name "T")',
        ]
    )


def test_a_file_that_is_not_toml_says_where() -> None:
    _, problems = read_document('[[lines]\nname = "x"\n', "h.toml")
    assert len(problems) == 1 and "not valid TOML" in str(problems[0])
    assert "line 1" in str(problems[0])


def test_exported_values_are_toml_that_reads_back() -> None:
    import tomllib

    tricky = 'Nadia "N" \\ Ḿ\n\x7f'
    value = {"s": tricky, "n": 3, "b": True, "l": ["a", 1], "t": {"k": "v"}}
    text = "\n".join(f"{k} = {toml_value(v)}" for k, v in value.items())
    assert tomllib.loads(text) == value
