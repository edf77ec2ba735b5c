"""Why a browser may offer no microphone, in one plain sentence.

Browsers give a page the microphone only in a secure context: ``https://`` or the
machine itself (``localhost``, ``127.0.0.1``).  A student who opens
``http://<laptop address>:8501`` gets no microphone, and the recorder and the live panel
would fail without saying why; :func:`blocked_reason` says it, from the address the
browser used (``st.context.url``).
"""

from __future__ import annotations

from urllib.parse import urlparse

import streamlit as st

from ui.i18n import _, pgettext

#: Hosts a browser treats as secure even over plain http.
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
#: The command that gives the students a microphone (named in :func:`blocked_reason`).
FIX_COMMAND = "python -m ser_core serve --https"


def blocked_reason(url: str | None) -> str | None:
    """The sentence to show when a page at ``url`` cannot have the microphone, else None."""
    if not url:
        return None
    parsed = urlparse(url)
    host = (parsed.hostname or "").lower()
    if parsed.scheme == "https" or host in LOCAL_HOSTS or host.endswith(".localhost"):
        return None
    return _(
        "Your browser gives no microphone to this page: it was opened over plain http at "
        "{host}, and browsers allow microphones only over https or on the machine itself. "
        "Upload a recording instead, or ask whoever runs the app to start it with `{command}`."
    ).format(host=host, command=FIX_COMMAND)


def warn_if_blocked() -> bool:
    """Show :func:`blocked_reason` for this session's address; True when the mic is blocked."""
    reason = blocked_reason(st.context.url)
    if reason:
        st.warning(reason, icon=":material/mic_off:")
    return reason is not None


def webrtc_words() -> dict[str, str]:
    """The live microphone's own words (streamlit-webrtc's ``translations``) in the
    session's language; START and STOP keep their names, which the page's sentences use."""
    return {
        "start": pgettext("live microphone", "Start"),
        "stop": pgettext("live microphone", "Stop"),
        "select_device": pgettext("live microphone", "Select Device"),
        "select_microphone": pgettext("live microphone", "Select microphone"),
        "mute_microphone": pgettext("live microphone", "Mute microphone"),
        "unmute_microphone": pgettext("live microphone", "Unmute microphone"),
        "device_ask_permission": _("Allow this page to use your microphone."),
        "device_not_available": _("No microphone was found on this device."),
        "device_access_denied": _(
            "The microphone is blocked: allow it in the browser's settings for this site."
        ),
        "media_api_not_available": _(
            "This browser gives this page no microphone here: open it over https or on the machine itself."
        ),
    }
