"""Broken inventories: each gets its exact ``PATH:LINE:COL: message`` lines and exit code 2.

Every ``tests/data/invalid-NAME.yaml`` has its expected output beside it in
``invalid-NAME.expected`` (blackbox_exporter's ``testdata/invalid-*.yml`` habit).
A mutation loop then feeds the loader files no test wrote by hand.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from inventory import InputError, load_inventory, parse_inventory
from inventory.demofleet import demo_yaml

DATA = Path(__file__).resolve().parent / "data"
ROOT = DATA.parent.parent
CASES = sorted(DATA.glob("invalid-*.yaml"))


def expected_lines(case: Path) -> list[str]:
    return case.with_suffix(".expected").read_text(encoding="utf-8").splitlines()


def test_every_kind_of_broken_file_has_a_case() -> None:
    names = {c.stem.removeprefix("invalid-") for c in CASES}
    assert {"yaml-syntax", "unknown-key-top", "unknown-key-endpoint", "unknown-key-services",
            "missing-field", "wrong-type", "address", "port", "duplicate-id",
            "duplicate-address", "unknown-parent", "plaintext-password", "plaintext-secret",
            "not-utf8", "empty", "duplicate-yaml-key", "unknown-group", "unknown-profile",
            "undeclared-tier"} <= names
    for case in CASES:
        assert case.with_suffix(".expected").exists(), case


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_loader_reports_exact_messages(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(DATA)
    with pytest.raises(InputError) as caught:
        load_inventory(case.name)
    assert caught.value.lines() == expected_lines(case)


def vcfleet(*args: str, cwd: Path = DATA) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    env.pop("VCFLEET_INVENTORY", None)
    return subprocess.run([sys.executable, "-m", "vcfleet", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


CLI_CASES = [c for c in CASES if c.stem in (
    "invalid-yaml-syntax", "invalid-unknown-key-services", "invalid-plaintext-secret",
    "invalid-not-utf8", "invalid-empty", "invalid-many-problems")]


@pytest.mark.parametrize("case", CLI_CASES, ids=[c.stem for c in CLI_CASES])
def test_cli_validate_prints_problems_and_exits_2(case: Path) -> None:
    done = vcfleet("inventory", "validate", case.name)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == expected_lines(case)
    assert done.stdout == ""


def test_cli_validate_whole_table_in_one_process() -> None:
    """Every case through the real CLI entry point, in one interpreter to stay fast."""
    script = (
        "import sys, contextlib, io, json\n"
        "from vcfleet.cli import main\n"
        "for name in sys.argv[1:]:\n"
        "    err = io.StringIO()\n"
        "    with contextlib.redirect_stderr(err):\n"
        "        code = main(['inventory', 'validate', name])\n"
        "    print(name, code, json.dumps(err.getvalue()))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, *[c.name for c in CASES]], cwd=DATA,
                          capture_output=True, text=True, timeout=60, check=True,
                          env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    for line, case in zip(done.stdout.splitlines(), CASES, strict=True):
        name, code, err = line.split(" ", 2)
        assert (name, code) == (case.name, "2")
        assert json.loads(err).splitlines() == expected_lines(case)


def test_cli_validate_missing_file() -> None:
    done = vcfleet("inventory", "validate", "no-such-file.yaml")
    assert done.returncode == 2
    assert done.stderr == ("no-such-file.yaml: cannot read inventory: "
                           "No such file or directory\n")


def test_cli_validate_demo_fleet_exits_0() -> None:
    done = vcfleet("inventory", "validate", cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stderr.endswith(": ok, 348 endpoints\n")


def test_two_level_example_loads() -> None:
    inv = load_inventory(ROOT / "inventory" / "examples" / "two-level.yaml")
    assert inv.tiers == ("province", "department", "commune")
    communes = inv.select("tier=commune")
    assert len(communes) == 4
    assert all(e.parent == "ubnd-tinh" for e in communes)
    assert {e.id for e in inv.select("tag=pilot")} == {"ha-son", "nga-an", "yen-tho"}
    assert inv.profile(inv.get("ha-son")).checks == ["icmp", "sip", "webrtc"]
    assert inv.get("phuong-hac-thanh").is_name


def test_two_level_example_validates_through_cli() -> None:
    done = vcfleet("inventory", "validate", "inventory/examples/two-level.yaml", cwd=ROOT)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("argv", [
    ["--inventory", "inventory/examples/two-level.yaml", "inventory", "list", "--format", "csv"],
    ["inventory", "--inventory", "inventory/examples/two-level.yaml", "list", "--format", "csv"],
    ["inventory", "list", "--format", "csv", "--inventory", "inventory/examples/two-level.yaml"],
], ids=["before-command", "before-action", "after-action"])
def test_inventory_option_before_or_after_the_action(argv: list[str]) -> None:
    done = vcfleet(*argv, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1 + 7


def test_yaml_merge_keys_and_anchors_work() -> None:
    text = """\
endpoints:
  - {id: hub, name: UBND tỉnh, tier: province, address: 10.0.0.1, vendor: cisco_ce}
  - &room {id: xa-1, name: Xã Một, tier: commune, parent: hub, address: 10.0.0.2, vendor: poly}
  - {<<: *room, id: xa-2, name: Xã Hai, address: 10.0.0.3}
"""
    inv = parse_inventory(text, "x.yaml")
    assert inv.get("xa-2").vendor == "poly"
    assert inv.get("xa-2").parent == "hub"
    assert inv.get("xa-2").address == "10.0.0.3"


def test_self_referencing_alias_is_an_error_not_a_crash() -> None:
    with pytest.raises(InputError) as caught:
        parse_inventory("endpoints: &a [*a]\n", "x.yaml")
    assert caught.value.lines() == [
        "x.yaml:1:16: YAML error: alias '*a' refers to a mapping or list that contains it"]


def test_control_character_is_located() -> None:
    with pytest.raises(InputError) as caught:
        parse_inventory("endpoints:\n  - name: Hà Sơn\x07\n".encode(), "x.yaml")
    assert caught.value.lines() == [
        "x.yaml:2:17: YAML syntax error: character U+0007 is not allowed "
        "(control characters are not allowed)"]


# -- files the tests did not write: mutations of the demo fleet -----------------------------

TOKENS = [":", "-", "[", "]", "{", "}", ",", "#", "&a", "*a", "!", "|", ">", "'", '"', "%",
          "@", "`", " ", "\t", "\n", "?", "0", "đ", "\x00", "\ufeff", "\\", "<<: *a"]
VALUES = ["[a, b]", "{x: 1}", "-1", "null", "1.5", "true", "[[x]]", "{}", "[]", "[{a: 1}]",
          "{groups: [x]}", "0", "70000", "ubnd-tinh", "::1", '""', "{ssh: 5}",
          "{password: x}", "2024-13-01", "!!binary x", "!!int x", "*nowhere", "&a [*a]"]


def mutate(text: str, rng: random.Random) -> str | bytes:
    """One random damage: delete lines, swap or replace characters, truncate, change a value."""
    lines = text.splitlines(keepends=True)
    if len(lines) < 6:
        return text + "\n" + rng.choice(VALUES)
    op = rng.randrange(7)
    if op == 0:
        for _ in range(rng.randint(1, 5)):
            del lines[rng.randrange(len(lines))]
        return "".join(lines)
    if op == 1:
        chars = list(text)
        for _ in range(rng.randint(1, 5)):
            i, j = rng.randrange(len(chars)), rng.randrange(len(chars))
            chars[i], chars[j] = chars[j], chars[i]
        return "".join(chars)
    if op == 2:
        return text[: rng.randrange(len(text))]
    if op == 3:
        chars = list(text)
        for _ in range(rng.randint(1, 5)):
            chars[rng.randrange(len(chars))] = rng.choice(TOKENS)
        return "".join(chars)
    if op == 4:
        i = rng.randrange(len(lines))
        lines[i] = " " * rng.randint(0, 6) + lines[i].lstrip()
        return "".join(lines)
    if op == 5:
        i = rng.randrange(len(lines))
        key, sep, _ = lines[i].partition(": ")
        if sep:
            lines[i] = f"{key}: {rng.choice(VALUES)}\n"
        return "".join(lines)
    data = bytearray(text.encode())
    data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def problems_of(damaged: str | bytes) -> list[str] | None:
    """The problem lines of a damaged file, or None when it loads."""
    try:
        parse_inventory(damaged if isinstance(damaged, bytes) else damaged.encode(), "fuzz.yaml")
    except InputError as exc:
        return exc.lines()
    return None


def test_mutated_demo_files_never_crash_the_loader() -> None:
    """300 damaged copies of the demo file's head: each loads or gives located problems."""
    head = "".join(demo_yaml().splitlines(keepends=True)[:160])
    rng = random.Random(20251127)
    outcomes = {"ok": 0, "problems": 0}
    for _ in range(300):
        damaged: str | bytes = head
        for _ in range(rng.randint(1, 3)):
            damaged = mutate(damaged if isinstance(damaged, str)
                             else damaged.decode("utf-8", "replace"), rng)
        problems = problems_of(damaged)
        outcomes["problems" if problems is not None else "ok"] += 1
        assert problems is None or problems, damaged
        for line in problems or []:
            assert line.startswith("fuzz.yaml:"), (line, damaged)
            _, row, col, message = line.split(":", 3)
            assert int(row) >= 1, line
            assert int(col) >= 1, line
            assert message.strip(), line
    assert outcomes["problems"] > 150


# -- inputs that crashed the loader (all but the last two, and the
#    self-referencing alias above), and other odd YAML: each is now a located problem --

REGRESSIONS = [
    ("endpoints: []\n", None),
    ("endpoints:\n  - {id: a, name: A, tier: province, address: 10.0.0.1, vendor: poly, "
     "groups: [[x]]}\n",
     ["x.yaml:2:80: endpoint 'a': group names must be strings, got ['x']"]),
    ("province: 2024-13-45\nendpoints: []\n",
     ["x.yaml:1:11: YAML error: invalid timestamp '2024-13-45' (month must be in 1..12)"]),
    ("endpoints: [!!set {a}]\n",
     ["x.yaml:1:13: YAML error: tag 'tag:yaml.org,2002:set' is not supported here"]),
    ("endpoints: " + "[" * 5000 + "]" * 5000 + "\n",
     ["x.yaml:1:75: YAML error: nested deeper than 64 levels"]),
    ("endpoints:\n  - {id: a, name: A, tier: province, address: 10.0.0.1, vendor: poly, "
     "tags: [[b, {c: d}]]}\n",
     ["x.yaml:2:78: endpoint 'a': tags[0]: expected a string, got ['b', {'c': 'd'}]"]),
    ("endpoints: 2024-01-01\n", ["x.yaml:1:12: endpoints: expected a list"]),
    ("a: 1\n---\nb: 2\n",
     ["x.yaml:2:1: YAML syntax error: expected one document, found a second one "
      "(remove the '---')"]),
]


@pytest.mark.parametrize(("text", "expected"), REGRESSIONS, ids=range(len(REGRESSIONS)))
def test_odd_yaml_gives_located_problems(text: str, expected: list[str] | None) -> None:
    if expected is None:
        assert len(parse_inventory(text, "x.yaml")) == 0
        return
    with pytest.raises(InputError) as caught:
        parse_inventory(text, "x.yaml")
    assert caught.value.lines() == expected


@pytest.mark.parametrize("loader", ["CSafeLoader", "SafeLoader"])
def test_deep_nesting_message_is_ours_with_either_parser(
        loader: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """libyaml's own depth limit (PyYAML 6.0.4 wheels) never shows: same line, same place."""
    from inventory import yamlpos

    if not hasattr(yaml, loader):
        pytest.skip(f"PyYAML is built without {loader}")
    monkeypatch.setattr(yamlpos, "_Loader", getattr(yaml, loader))
    for text, where in [("[" * 5000 + "]" * 5000, "1:65"), ("[\n" * 2000 + "]" * 2000, "65:1")]:
        with pytest.raises(InputError) as caught:
            parse_inventory(text, "x.yaml")
        assert caught.value.lines() == [f"x.yaml:{where}: YAML error: nested deeper than 64 levels"]


def random_value(rng: random.Random, depth: int = 0) -> object:
    """A random YAML value: scalars of every type, and small nested lists and mappings."""
    scalars: list[object] = [rng.randint(-5, 70000), rng.random(), True, None, "", "x",
                             "ubnd-tinh", "commune", "poly", "env:X", "hunter2", "10.0.0.1",
                             "Hà", dt.date(2024, 1, 1), "agent", 5060]
    if depth >= 3 or rng.random() < 0.7:
        return rng.choice(scalars)
    keys = ["port", "sip", "ssh", "x", "checks", "advisory", "groups", "tier", "secret",
            "password", "name"]
    if rng.random() < 0.5:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(3))]
    return {rng.choice(keys): random_value(rng, depth + 1) for _ in range(rng.randrange(3))}


def places(node: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Every path to a value inside a parsed document."""
    out = [path] if path else []
    items = (node.items() if isinstance(node, dict)
             else enumerate(node) if isinstance(node, list) else [])
    for key, value in items:
        out += places(value, (*path, key))
    return out


def test_values_of_every_type_anywhere_never_crash_the_loader() -> None:
    """The two-level example with random values put at random places, 200 times."""
    example = ROOT / "inventory" / "examples" / "two-level.yaml"
    original = yaml.safe_load(example.read_text(encoding="utf-8"))
    rng = random.Random(7)
    for _ in range(200):
        doc = copy.deepcopy(original)
        for _ in range(rng.randint(1, 3)):
            *parents, last = rng.choice(places(doc))
            node = doc
            for key in parents:
                node = node[key]
            node[last] = random_value(rng)
        text = yaml.safe_dump(doc, allow_unicode=True)
        problems = problems_of(text.encode())
        for line in problems or []:
            assert line.startswith("fuzz.yaml:"), (line, text)


def test_a_rejected_endpoint_gives_its_children_no_false_parent_error() -> None:
    text = ("endpoints:\n"
            "  - {id: hub, name: H, tier: province, address: 127.0.0.1, vendor: cisco_ce,"
            " services: {sip: {port: 99999}}}\n"
            "  - {id: a, name: A, tier: commune, parent: hub, address: 127.0.0.2, vendor: poly}\n"
            "  - {id: b, name: B, tier: commune, parent: nowhere, address: 127.0.0.3,"
            " vendor: poly}\n")
    with pytest.raises(InputError) as caught:
        parse_inventory(text, "x.yaml")
    assert caught.value.lines() == [
        "x.yaml:2:101: endpoint 'hub': services.sip.port: port must be between 1 and 65535, "
        "got 99999",
        "x.yaml:4:5: endpoint 'b': parent 'nowhere' does not exist"]
