"""The personal-data guard: nothing that looks like an ID card, a phone or a GPS point leaves.

Patterns: an 18-digit Chinese resident ID number (17 digits and a digit or X, with a valid
ISO 7064 MOD 11-2 check digit), an 11-digit mainland mobile number (1[3-9] and nine digits),
and a GPS point in China given with five or more decimals as "latitude longitude" (a geopoint as
survey platforms write it; numbers in neighbouring CSV columns are not a point). Embedded
images are skipped (base64 text is not data about people), and so are digits that are part of
a longer token: after a decimal point or next to a letter (a fraction, a UUID). The guard fails
the run with the file and line where a value was found.
"""

from __future__ import annotations

import bisect
import re
import zipfile
from pathlib import Path

from doorstep.errors import DataError

# the look-behind (no letter, digit or decimal point before) follows the first character, so
# that the regex engine can skip ahead to candidate digits instead of trying every position
_ID_CARD = re.compile(r"[1-9](?<![0-9A-Za-z.][1-9])[0-9]{16}[0-9Xx](?![0-9A-Za-z])")
_MOBILE = re.compile(r"1(?<![0-9A-Za-z.]1)[3-9][0-9]{9}(?![0-9A-Za-z])")
_GPS = re.compile(r"(?<![0-9.])(?:[3-9]|[1-5][0-9])\.[0-9]{5,} +(?:7[3-9]|[89][0-9]|1[0-3][0-9])"
                  r"\.[0-9]{5,}(?![0-9])")
_EMBEDDED = re.compile(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=\\n]+")
# the line breaks of str.splitlines, so that line numbers are those of a line-by-line scan
_LINE_BREAK = re.compile("\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


class PersonalDataError(DataError):
    """A report output holds something that looks like personal data."""


def _valid_id_card(text: str) -> bool:
    total = sum(int(digit) * weight for digit, weight in zip(text[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == text[17].upper()


class _LazyLineStarts:
    """Where each line of a text starts, found on first use (most outputs have no finding)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts: list[int] | None = None

    def line_of(self, position: int) -> int:
        """The 1-based number of the line holding ``position``."""
        if self.starts is None:
            self.starts = [0] + [match.end() for match in _LINE_BREAK.finditer(self.text)]
        return bisect.bisect_right(self.starts, position)


def scan_for_personal_data(text: str, *, source: str = "<text>",
                           extra_values: tuple[str, ...] = ()) -> list[str]:
    """List the places in ``text`` that look like personal data.

    Parameters
    ----------
    text
        The content of an output file.
    source
        Its name, used in the findings.
    extra_values
        Exact values known to be personal (for instance planted canaries), also searched.

    Returns
    -------
    list of str
        One finding per match: ``"<source>, line N: <kind> '<masked value>'"``.

    Examples
    --------
    >>> scan_for_personal_data("phone 13812345678", source="x.csv")
    ["x.csv, line 1: mobile phone number '138******78'"]
    """
    text = _EMBEDDED.sub("", text)
    # (line, kind, position, finding): each pattern runs once over the whole text (none can
    # match across a line break), and sorting gives the order of a line-by-line scan
    found: list[tuple[int, int, int, str]] = []
    line_starts = _LazyLineStarts(text)
    for match in _ID_CARD.finditer(text):
        value = match.group()
        if _valid_id_card(value):
            found.append((line_starts.line_of(match.start()), 0, match.start(),
                          f"ID card number '{value[:4]}**********{value[-4:]}'"))
    for match in _MOBILE.finditer(text):
        value = match.group()
        found.append((line_starts.line_of(match.start()), 1, match.start(),
                      f"mobile phone number '{value[:3]}******{value[-2:]}'"))
    for match in _GPS.finditer(text):
        found.append((line_starts.line_of(match.start()), 2, match.start(),
                      "exact GPS point"))
    if any(extra_values):
        lines = text.splitlines()
        for position, value in enumerate(extra_values):
            if not value or value not in text:
                continue
            found += [(number, 3, position, "a known personal value")
                      for number, line in enumerate(lines, start=1) if value in line]
    found.sort(key=lambda item: item[:3])
    return [f"{source}, line {number}: {finding}" for number, _, _, finding in found]


def _office_text(path: Path) -> str:
    """The text of a Word or Excel file: every XML part, one paragraph, cell or string a line."""
    with zipfile.ZipFile(path) as archive:
        parts = [archive.read(name).decode("utf-8", errors="replace")
                 for name in archive.namelist() if name.endswith(".xml")]
    xml = "\n".join(parts)
    for closing in ("</w:p>", "</si>", "</c>", "</t>"):
        xml = xml.replace(closing, closing + "\n")
    return re.sub(r"<[^>]+>", "", xml)


def scan_run_dir(run_dir: str | Path, *, extra_values: tuple[str, ...] = (),
                 suffixes: tuple[str, ...] = (".csv", ".html", ".json", ".ipynb", ".yaml",
                                              ".md", ".txt", ".log")) -> None:
    """Scan every text output (and Word or Excel file) of a run; raise if anything looks personal.

    Raises :class:`PersonalDataError` listing the findings.

    Examples
    --------
    >>> scan_run_dir("reports/caring_mothers/20240301-seed1")  # doctest: +SKIP
    """
    findings: list[str] = []
    for path in sorted(Path(run_dir).rglob("*")):
        if not path.is_file():
            continue
        if path.suffix in {".docx", ".xlsx"}:
            text = _office_text(path)
        elif path.suffix in suffixes:
            text = path.read_text(encoding="utf-8", errors="replace")
        else:
            continue
        findings += scan_for_personal_data(text, source=str(path), extra_values=extra_values)
    if findings:
        shown = "\n  ".join(findings[:20])
        more = f"\n  ... and {len(findings) - 20} more" if len(findings) > 20 else ""
        raise PersonalDataError(
            f"personal data found in the outputs of {run_dir}; nothing was published:\n  "
            f"{shown}{more}"
        )
