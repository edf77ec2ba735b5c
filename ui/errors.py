"""Showing the library's deliberate errors (:class:`~ser_core.errors.SERError`) on a page."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import streamlit as st

from ser_core.errors import SERError
from ser_core.i18n import error_message


def show_error(err: BaseException) -> None:
    """Show a :class:`SERError` as a red box with its human-readable message, in the
    session's language."""
    st.error(error_message(err) if isinstance(err, SERError) else str(err), icon=":material/error:")


@contextlib.contextmanager
def report_errors() -> Iterator[None]:
    """Run a block; a :class:`SERError` raised in it is shown with :func:`show_error`.

    The rest of the block is skipped, the rest of the page still runs.
    """
    try:
        yield
    except SERError as err:
        show_error(err)
