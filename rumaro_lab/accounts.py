"""Account names: validated before they ever become part of a path.

Instagram usernames are 1-30 characters of letters, digits, periods and underscores, with no
two periods in a row and no period at the end. Anything else (``../etc``, ``a/b``, spaces) is
refused, which also makes the name safe as a folder name.

>>> validate_account("NatGeo")
'natgeo'
>>> validate_account("../etc")
Traceback (most recent call last):
...
rumaro_lab.errors.InvalidAccountName: invalid account name '../etc': ...
"""

from __future__ import annotations

import re

from .errors import InvalidAccountName

_ACCOUNT_RE = re.compile(r"^(?!.*\.\.)(?!.*\.$)[a-z0-9._]{1,30}$")


def validate_account(name: str) -> str:
    """Return the canonical (lower-case) account name, or raise `InvalidAccountName`."""
    if not isinstance(name, str):
        raise InvalidAccountName(f"invalid account name {name!r}: not a string")
    canonical = name.strip().lstrip("@").lower()
    if not _ACCOUNT_RE.match(canonical):
        raise InvalidAccountName(
            f"invalid account name {name!r}: Instagram names are 1-30 letters, digits, '.' or '_', "
            "without '..' or a final '.'",
        )
    return canonical


def is_valid_account(name: str) -> bool:
    """True when `validate_account` would accept `name`."""
    try:
        validate_account(name)
    except InvalidAccountName:
        return False
    return True
