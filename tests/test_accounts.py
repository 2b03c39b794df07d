import pytest

from rumaro_lab.accounts import is_valid_account, validate_account
from rumaro_lab.errors import InvalidAccountName


@pytest.mark.parametrize("name", ["natgeo", "NASA", "spacex", "a", "a.b_c", "x" * 30, "@natgeo"])
def test_valid_names_are_canonical(name):
    assert validate_account(name) == name.lower().lstrip("@")


@pytest.mark.parametrize(
    "name", ["", "../etc", "a/b", "a..b", "ends.", "x" * 31, "with space", "nul\x00", "é", ".."]
)
def test_invalid_names_never_become_paths(name):
    with pytest.raises(InvalidAccountName) as info:
        validate_account(name)
    assert repr(name) in str(info.value)
    assert not is_valid_account(name)
