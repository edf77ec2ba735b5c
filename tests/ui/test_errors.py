"""Showing deliberate errors on a page (:mod:`ui.errors`)."""

from __future__ import annotations

import pytest

from ser_core.errors import AudioDecodeError
from ui import errors


def test_report_errors_swallows_only_ser_errors():
    with errors.report_errors():
        raise AudioDecodeError("bad file")  # shown, not raised
    with pytest.raises(ZeroDivisionError), errors.report_errors():
        _ = 1 / 0
