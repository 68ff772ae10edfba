"""Rates of the planted field problems and of attrition, with their validation.

This module owns the names, default values and allowed ranges of every ``**rates`` keyword of
:func:`doorstep.simulate.simulate`.
"""

from __future__ import annotations

from doorstep.errors import ConfigError
from doorstep.simulate.instruments import PROGRAMMES

DEFAULT_RATES: dict[str, float | str] = {
    "duplicate_exact": 0.01,
    "resubmission": 0.01,
    "fabricator": 0.08,
    "missing_codes": 0.02,
    "na_code": 0.5,
    "amount_text": 0.03,
    "amount_wan": 0.01,
    "monthly_annual": 0.01,
    "fullwidth_digits": 0.02,
    "id_scientific": 0.03,
    "leading_zeros": 0.05,
    "date_formats": 0.3,
    "skip_logic": 0.02,
    "id_typo": 0.005,
    "attrition": 0.03,
    "attrition_migrant_ratio": 2.0,
    "legacy_encoding": "gbk",
}

RATE_MEANINGS = {
    "duplicate_exact": "share of interviews exported twice as identical rows",
    "resubmission": "share of interviews with an earlier, differing submission of the same id",
    "fabricator": "share of the fabricating enumerator's interviews that are fabricated",
    "missing_codes": "share of numeric and item cells written as -99 (don't know) or -88 (refused)",
    "na_code": "share of cells hidden by skip logic written as -66 (not applicable)",
    "amount_text": "share of non-zero income cells written as text (三千, 3千, 两千五, 3000元)",
    "amount_wan": "share of non-zero income cells written in 万元 (0.3万)",
    "monthly_annual": "share of non-zero income cells holding the annual figure (x12)",
    "fullwidth_digits": "share of integer cells written in full-width digits",
    "id_scientific": "share of id_card cells damaged by Excel (3.30902E+17 or a float cell)",
    "leading_zeros": "share of village_code cells that lost their leading zero",
    "date_formats": "share of interview_date cells in a non-ISO format",
    "skip_logic": "share of cells hidden by skip logic that are answered anyway",
    "id_typo": "share of follow-up interviews whose unit id has one character changed",
    "attrition": "per-round probability that a non-migrant household leaves the panel",
    "attrition_migrant_ratio": "how many times likelier a migrant household is to leave",
    "legacy_encoding": "encoding of the legacy CSV exports: 'gbk' or 'gb18030'",
}

LEGACY_ENCODINGS = ("gbk", "gb18030")


def default_rates(programme: str) -> dict[str, float | str]:
    """Return the default problem and attrition rates of a programme.

    Parameters
    ----------
    programme : str
        ``"caring_mothers"`` or ``"skills_workshops"``.

    Examples
    --------
    >>> default_rates("caring_mothers")["duplicate_exact"]
    0.01
    """
    if programme not in PROGRAMMES:
        raise ConfigError(
            f"unknown programme {programme!r}; expected one of: {', '.join(PROGRAMMES)}"
        )
    return dict(DEFAULT_RATES)


def resolve_rates(programme: str, overrides: dict) -> dict[str, float | str]:
    """Merge ``overrides`` into the defaults, checking names, types and ranges.

    Raises
    ------
    ConfigError
        For an unknown name (the message lists the allowed ones) or a value out of range.

    Examples
    --------
    >>> resolve_rates("caring_mothers", {"resubmission": 0.05})["resubmission"]
    0.05
    """
    rates = default_rates(programme)
    unknown = sorted(set(overrides) - set(rates))
    if unknown:
        raise ConfigError(
            f"unknown rate name(s) {', '.join(unknown)} for programme {programme!r}; "
            f"allowed: {', '.join(sorted(rates))}"
        )
    for name, value in overrides.items():
        if name == "legacy_encoding":
            if value not in LEGACY_ENCODINGS:
                raise ConfigError(
                    f"rate 'legacy_encoding': expected one of {LEGACY_ENCODINGS}, found {value!r}"
                )
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"rate {name!r}: expected a number, found {value!r}")
        elif name == "attrition_migrant_ratio":
            if not 0 <= value <= 20:
                raise ConfigError(f"rate {name!r}: expected a number in [0, 20], found {value}")
        elif not 0 <= value <= 1:
            raise ConfigError(f"rate {name!r}: expected a share in [0, 1], found {value}")
        rates[name] = value if name == "legacy_encoding" else float(value)
    if float(rates["attrition"]) * float(rates["attrition_migrant_ratio"]) > 1:
        raise ConfigError(
            "rates 'attrition' x 'attrition_migrant_ratio' must not exceed 1 (a probability); "
            f"found {rates['attrition']} x {rates['attrition_migrant_ratio']}"
        )
    return rates
