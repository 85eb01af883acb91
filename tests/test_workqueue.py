"""stockade.workqueue: the work item, environment readers and exit codes both dispatchers share.

Each dispatcher's own tests run these through its programs; this file pins the shared rules
once, and that the package stays standard-library-only.
"""

from __future__ import annotations

import copy
import json
import pickle
import re
from pathlib import Path

import pytest

from stockade.workqueue import env
from stockade.workqueue.errors import (
    EXIT_INVALID,
    EXIT_LAUNCH,
    EXIT_NO_SLOT,
    ConfigError,
    DispatchError,
    LaunchError,
    NoSlotError,
    WorkItemError,
)
from stockade.workqueue.workitem import (
    MAX_DOCUMENT_BYTES,
    MAX_SECRET_BYTES,
    Secret,
    check_id,
    json_object,
    parse_work_item,
)

from .dispatch_support import image_layout, loaded_modules, unexpected_modules, work_item_json

WORK_SECRET = "wsec_shared-parser-secret-3c9d"
SHORT_ID = re.compile(r"^[a-z][0-9]$")


def item(**fields: object) -> str:
    return work_item_json(**{"secret": WORK_SECRET, **fields})


# --- the secret that cannot print itself ---------------------------------------------------------


def test_a_secret_shows_in_no_repr_format_or_pickle() -> None:
    secret = Secret(WORK_SECRET)
    for text in (repr(secret), str(secret), f"{secret}", f"{secret!r}", repr([secret])):
        assert WORK_SECRET not in text and "[redacted]" in text
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(secret)
    with pytest.raises(TypeError, match="cannot be pickled"):
        copy.deepcopy(secret)
    assert secret.reveal() == WORK_SECRET


def test_a_parsed_item_carries_the_secret_wrapped() -> None:
    parsed = parse_work_item(item(), {"ANTHROPIC_WORK_ID": "work_01"}, "https://api.example.com")
    assert (parsed.work_id, parsed.session_id, parsed.base_url) == (
        "work_01",
        "sesn_01",
        "https://api.example.com",
    )
    assert parsed.secret.reveal() == WORK_SECRET
    assert WORK_SECRET not in repr(parsed)


# --- the work item's rules -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stdin", "environ", "message"),
    [
        ("  \n", {}, "no work item on stdin"),
        ("x" * (MAX_DOCUMENT_BYTES + 1), {}, f"larger than {MAX_DOCUMENT_BYTES} bytes"),
        ('{"secret": "' + WORK_SECRET, {}, "is not JSON at line 1 column"),
        ("[1]", {}, "is not a JSON object"),
        (item(secret=" "), {}, "has no .secret"),
        (item(secret=7), {}, "has no .secret"),
        (item(secret="x" * (MAX_SECRET_BYTES + 1)), {}, f"longer than {MAX_SECRET_BYTES} bytes"),
        (item(secret=WORK_SECRET + "\x7f"), {}, ".secret contains control characters"),
        (item(data=[]), {}, "data is not an object"),
        (item(data={"id": "sesn_01", "type": "environment"}), {}, "sessions only"),
        (item(id=""), {"ANTHROPIC_WORK_ID": "work_01"}, "id is not a non-empty string"),
        (item(), {"ANTHROPIC_SESSION_ID": "sesn_02"}, "name different session IDs"),
        (item(id=None), {}, "no work ID: ANTHROPIC_WORK_ID is not set"),
        (item(id="w" * 129), {}, "the work ID has characters outside [A-Za-z0-9_-] or is over 128 long"),
    ],
)
def test_a_malformed_item_is_refused_and_the_error_never_quotes_it(
    stdin: str, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(WorkItemError) as caught:
        parse_work_item(stdin, environ)
    assert message in str(caught.value)
    assert WORK_SECRET not in str(caught.value)
    assert caught.value.exit_code == EXIT_INVALID and caught.value.event == "work_item.invalid"


def test_identifiers_may_come_from_the_environment_alone() -> None:
    parsed = parse_work_item(
        json.dumps({"secret": WORK_SECRET}),
        {"ANTHROPIC_WORK_ID": "work_09", "ANTHROPIC_SESSION_ID": "sesn_09"},
    )
    assert (parsed.work_id, parsed.session_id, parsed.base_url) == ("work_09", "sesn_09", None)


def test_bytes_that_are_not_utf8_are_refused_without_echoing_them() -> None:
    with pytest.raises(WorkItemError, match="the body is not JSON") as caught:
        json_object(b'{"secret": "\xff' + WORK_SECRET.encode() + b'"}', "the body")
    assert WORK_SECRET not in str(caught.value)
    with pytest.raises(WorkItemError, match="the body is empty"):
        json_object(b"  ", "the body")


@pytest.mark.parametrize(
    ("value", "message"), [(None, "is missing"), (5, "is missing"), ("a/b", "has characters outside")]
)
def test_check_id_names_the_field(value: object, message: str) -> None:
    with pytest.raises(WorkItemError, match=f"workId {message}"):
        check_id(value, "workId")


# --- environment readers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "N is not set; expected an integer from 1 to 9"),
        ({"N": "x"}, "N is not an integer (expected 1 to 9)"),
        ({"N": "10"}, "N is 10; expected 1 to 9"),
    ],
)
def test_integer_errors_name_the_variable_and_the_range(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        env.integer(environ, "N", None, 1, 9)
    assert str(caught.value) == message


def test_numbers_take_their_default_when_unset_and_refuse_nan() -> None:
    assert env.integer({"N": " "}, "N", 4, 1, 9) == 4
    assert env.integer({"N": "9"}, "N", None, 1, 9) == 9
    assert env.seconds({}, "S", 2.5, 0.0, 60.0) == 2.5
    assert env.seconds({"S": "0.25"}, "S", 2.5, 0.0, 60.0) == 0.25
    with pytest.raises(ConfigError, match=r"S is nan; expected 0\.0 to 60\.0 seconds"):
        env.seconds({"S": "nan"}, "S", 2.5, 0.0, 60.0)
    with pytest.raises(ConfigError, match=r"S is not a number of seconds \(expected 0\.0 to 60\.0\)"):
        env.seconds({"S": "soon"}, "S", 2.5, 0.0, 60.0)


def test_booleans_lists_and_required_values() -> None:
    assert env.boolean({}, "B", True) is True
    assert env.boolean({"B": " FALSE "}, "B", True) is False
    with pytest.raises(ConfigError, match="B is not true or false"):
        env.boolean({"B": "yes"}, "B", True)
    assert env.id_list({"L": " a1, b2 ,"}, "L", SHORT_ID, "IDs") == (
        "a1",
        "b2",
    )
    with pytest.raises(ConfigError, match="L lists an ID twice"):
        env.id_list({"L": "a1,a1"}, "L", SHORT_ID, "IDs")
    with pytest.raises(ConfigError, match="R is not set; the fleet component sets it"):
        env.required({"R": "  "}, "R")
    with pytest.raises(ConfigError, match="E is not an env ID"):
        env.matching({"E": "env_x"}, "E", env.ENVIRONMENT_ID, "an env ID")


# --- exit codes ----------------------------------------------------------------------------------


def test_each_failure_keeps_its_exit_code_and_event() -> None:
    assert (DispatchError.exit_code, DispatchError.event) == (1, "dispatch.failed")
    assert (ConfigError.exit_code, ConfigError.event) == (EXIT_INVALID, "config.invalid")
    assert (NoSlotError.exit_code, NoSlotError.event) == (EXIT_NO_SLOT, "slot.timeout")
    assert (LaunchError.exit_code, LaunchError.event) == (EXIT_LAUNCH, "launch.failed")

    # The plain class attribute, as session_entry's SecretFetchError sets it, still works.
    class CustomError(DispatchError):
        exit_code = 9

    assert (CustomError.exit_code, CustomError.event) == (9, "dispatch.failed")


# --- packaging -----------------------------------------------------------------------------------


def test_the_package_imports_only_the_standard_library(tmp_path: Path) -> None:
    modules = loaded_modules(image_layout(tmp_path / "opt", ["workqueue"]), ["workqueue"])

    assert {"stockade.workqueue.env", "stockade.workqueue.errors", "stockade.workqueue.workitem"} <= modules
    assert unexpected_modules(modules, ["workqueue"]) == set()
