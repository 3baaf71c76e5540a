"""Flash budget parsing (KB = 1000, KiB = 1024) and atomic output files."""
from __future__ import annotations

import pytest

from dtmm.errors import DtmmError
from dtmm.prune.budget import parse_flash


@pytest.mark.parametrize(
    "text, nbytes",
    [
        ("65536", 65536), ("100B", 100), ("64KB", 64_000), ("64kb", 64_000), ("64 KiB", 65_536),
        ("64kib", 65_536), ("1.5MB", 1_500_000), ("2MiB", 2_097_152), ("0.5KiB", 512), ("1.0005KB", 1000),
    ],
)  # fmt: skip
def test_absolute_sizes(text, nbytes):
    b = parse_flash(text)
    assert b.nbytes == nbytes and b.fraction is None
    assert b.resolve(10**9) == nbytes


def test_percent_of_dense():
    b = parse_flash("30%")
    assert b.nbytes is None and b.fraction == pytest.approx(0.3)
    assert b.resolve(82_152) == 24_645  # floor(0.3 * 82152)
    assert parse_flash("50 %").resolve(1001) == 500


@pytest.mark.parametrize("text", ["64K", "64M", "1GB", "KB", "abc", "-5", "0", "0.0001", "5e3", "0%", "2000%", ""])
def test_bad_sizes_are_one_line_errors(text):
    with pytest.raises(DtmmError) as e:
        parse_flash(text)
    msg = str(e.value)
    assert "\n" not in msg and "flash size" in msg


def test_bare_k_says_ambiguous():
    with pytest.raises(DtmmError, match="ambiguous"):
        parse_flash("64K")
