"""Session-state keys of every page, and helpers on stored widget values.

Every widget key is ``"<page>.<what>"``; tests and browser tests address widgets by
these strings, so they never change.  The choices a user makes (every key in
:data:`CHOICES`) live for the whole browser session, across page switches: see
:func:`keep_choices`.
"""

from __future__ import annotations

import streamlit as st

from ser_core import attacks as adv

#: The interface language of the session (``ui.i18n``; a key of ``ser_core.i18n.LANGUAGES``).
KEY_LANG = "app.language"

#: Prefix of every widget key of the dataset page.
DATASET = "dataset"
KEY_SOURCE = f"{DATASET}.source"
KEY_EMOTION = f"{DATASET}.emotion"
KEY_SPEAKER = f"{DATASET}.speaker"
KEY_SENTENCE = f"{DATASET}.sentence"
KEY_UPLOAD = f"{DATASET}.upload"
KEY_SINGLE_REP = f"{DATASET}.single_rep"
KEY_MEANS_REP = f"{DATASET}.means_rep"
KEY_MEANS_DIFF = f"{DATASET}.means_diff"
KEY_DESCRIPTOR = f"{DATASET}.descriptor"
KEY_DESCRIPTOR_KIND = f"{DATASET}.descriptor_kind"
KEY_DESCRIPTOR_GENDER = f"{DATASET}.descriptor_gender"
KEY_PROJ_REP = f"{DATASET}.proj_rep"
KEY_PROJ_METHOD = f"{DATASET}.proj_method"
KEY_PROJ_COLOR = f"{DATASET}.proj_color"
#: "Hear it in a real room": the switch that renders the conditions, their seed, and the
#: representation drawn beside each.
KEY_ROOM = f"{DATASET}.room"
KEY_ROOM_SEED = f"{DATASET}.room_seed"
KEY_ROOM_REP = f"{DATASET}.room_rep"
KEY_PAIR_EMOTION = f"{DATASET}.pair_emotion"
KEY_PAIR_INDEX = f"{DATASET}.pair_index"

#: The clip last shown in the explorer, ``{"label": str, "file_id": str | None}``
#: (later pages can offer it as their default input).
CURRENT_CLIP = "clip.current"

LEADERBOARD = "leaderboard"
KEY_LB_MODELS = f"{LEADERBOARD}.models"
KEY_LB_INPUTS = f"{LEADERBOARD}.inputs"
KEY_LB_PROTOCOLS = f"{LEADERBOARD}.protocols"
KEY_LB_EVERY_RUN = f"{LEADERBOARD}.every_run"
KEY_LB_RUN = f"{LEADERBOARD}.run"
KEY_LB_COMPARE_A = f"{LEADERBOARD}.compare_a"
KEY_LB_COMPARE_B = f"{LEADERBOARD}.compare_b"
#: Which protocol the accuracy chart draws (one bar per recipe).
KEY_LB_ACC_PROTOCOL = f"{LEADERBOARD}.accuracy_protocol"


PREDICTOR = "predictor"
KEY_PRED_MODEL = f"{PREDICTOR}.model"
KEY_PRED_SOURCE = f"{PREDICTOR}.source"
KEY_PRED_UPLOADER = f"{PREDICTOR}.uploader"
KEY_PRED_RECORDER = f"{PREDICTOR}.recorder"
#: The clip to predict, per source: a :func:`~ui.clips.make_clip` dict.  The uploader and the
#: recorder set it in their ``on_change`` callbacks and the page reads only this key, so
#: tests (AppTest cannot upload files) set it directly.
KEY_PRED_CLIP = {"upload": f"{PREDICTOR}.clip.upload", "recording": f"{PREDICTOR}.clip.recording"}
#: Last :class:`~ui.predictor.ClipResult` per source (reused while clip and model stay the same).
KEY_PRED_RESULT = f"{PREDICTOR}.result"
KEY_FB_RIGHT = f"{PREDICTOR}.feedback.right"
KEY_FB_CORRECT = f"{PREDICTOR}.feedback.correct"
KEY_FB_CONSENT = f"{PREDICTOR}.feedback.consent"
KEY_FB_SUBMIT = f"{PREDICTOR}.feedback.submit"
KEY_FB_FOR = f"{PREDICTOR}.feedback.for"
KEY_FB_STATUS = f"{PREDICTOR}.feedback.status"
KEY_LIVE = f"{PREDICTOR}.live"
KEY_LIVE_SINK = f"{PREDICTOR}.live.sink"
KEY_LIVE_SESSION = f"{PREDICTOR}.live.session"
KEY_LIVE_PLAYING = f"{PREDICTOR}.live.playing"
KEY_LIVE_FIGURES = f"{PREDICTOR}.live.figures"
KEY_LIVE_ADAPT = f"{PREDICTOR}.live.adapt"
KEY_LIVE_WARMUP = f"{PREDICTOR}.live.warmup"
#: "Many files at once" (issue #30): the uploader (audio files and zips), the table's filters
#: (labels shown, unsure only), the download buttons, and the results kept for the session:
#: ``{(content id, model, backend): [FileResult, ...]}`` (:mod:`ui.batch`).
BATCH = f"{PREDICTOR}.batch"
KEY_BATCH_UPLOADER = f"{BATCH}.uploader"
KEY_BATCH_LABELS = f"{BATCH}.labels"
KEY_BATCH_UNSURE = f"{BATCH}.unsure_only"
KEY_BATCH_CSV = f"{BATCH}.csv"
KEY_BATCH_JSON = f"{BATCH}.json"
KEY_BATCH_HTML = f"{BATCH}.html"
KEY_BATCH_RESULTS = f"{BATCH}.results"

#: "Calibrate to my voice" (issue #7).  The recorder / uploader ``on_change`` callbacks
#: copy the calibration audio to :data:`KEY_CAL_CLIP` (a :func:`~ui.clips.make_clip` dict); the page
#: reads only that key, so tests set it directly, as for :data:`KEY_PRED_CLIP`.
CAL = f"{PREDICTOR}.calibration"
KEY_CAL_RECORDER = f"{CAL}.recorder"
KEY_CAL_UPLOADER = f"{CAL}.uploader"
KEY_CAL_CLIP = f"{CAL}.clip"
KEY_CAL_NAME = f"{CAL}.name"
KEY_CAL_RUN = f"{CAL}.run"
KEY_CAL_FORGET = f"{CAL}.forget"
KEY_CAL_CONSENT = f"{CAL}.consent"
KEY_CAL_SAVE = f"{CAL}.save"
KEY_CAL_PICK = f"{CAL}.pick"
KEY_CAL_LOAD = f"{CAL}.load"
KEY_CAL_DELETE = f"{CAL}.delete"
KEY_CAL_SWITCH = f"{CAL}.switch"
#: ``(kind, message)`` of the last calibration action ("success" / "error").
KEY_CAL_STATUS = f"{CAL}.status"
#: Whether the "Calibrate to my voice" expander is open (closed after a calibration succeeds).
KEY_CAL_EXPANDER = f"{CAL}.open"
#: The voice of this browser session: ``{"kind": "audio", "id", "label", "y", "seconds",
#: "windows"}`` (decoded calibration speech: the profile is computed, cached, for each
#: model's representations; its speech windows for AdaBN stay here) or
#: ``{"kind": "saved", "label", "profile": VoiceProfile}``.
KEY_VOICE = f"{CAL}.voice"
KEY_VOICE_STATS = f"{CAL}.voice_stats"
#: This session's models adapted to its voice: ``{(id, model_name, backend of the model, voice key): Predictor}``
#: (AdaBN takes a second or three, so :func:`~ui.calibration.with_voice` adapts once per model and voice).
KEY_ADAPTED = f"{CAL}.adapted"

#: First use (issue #25): "talk for 20 s about anything" before the first prediction.  Its
#: recorder / uploader stage their audio in :data:`KEY_CAL_CLIP` too (tests set it directly).
FIRST = f"{PREDICTOR}.first_use"
KEY_FIRST_RECORDER = f"{FIRST}.recorder"
KEY_FIRST_UPLOADER = f"{FIRST}.uploader"
KEY_FIRST_SKIP = f"{FIRST}.skip"
KEY_FIRST_SWITCH = f"{FIRST}.switch"
#: How this session answered the first-use step: ``"skipped"`` or ``"calibrated"`` (absent: not yet).
KEY_FIRST_ANSWER = f"{FIRST}.answer"
#: Id of the staged calibration clip the step last tried (each clip is tried once).
KEY_FIRST_TRIED = f"{FIRST}.tried"
#: Id of the voice the step calibrated (the page then says "Adapted to your voice").
KEY_FIRST_DONE = f"{FIRST}.done"

EXPLAIN = "explain"
KEY_XAI_MODEL = f"{EXPLAIN}.model"
KEY_XAI_EXPLAINED = f"{EXPLAIN}.explained"
KEY_XAI_SOURCE = f"{EXPLAIN}.source"
KEY_XAI_EMOTION = f"{EXPLAIN}.emotion"
KEY_XAI_FILE = f"{EXPLAIN}.file"
#: Clip filters of the corpus picker: the split (of the shown model's training protocol),
#: the speaker; and its buttons: previous / next clip of the filtered list, a random one.
KEY_XAI_SPLIT = f"{EXPLAIN}.split"
KEY_XAI_SPEAKER = f"{EXPLAIN}.speaker"
KEY_XAI_PREV = f"{EXPLAIN}.prev"
KEY_XAI_NEXT = f"{EXPLAIN}.next"
KEY_XAI_RANDOM = f"{EXPLAIN}.random"
KEY_XAI_UPLOADER = f"{EXPLAIN}.uploader"
#: The uploaded clip (a :func:`~ui.clips.make_clip` dict), set by the uploader's ``on_change``;
#: tests put clips here directly.
KEY_XAI_UPLOAD = f"{EXPLAIN}.clip.upload"
KEY_XAI_TARGET = f"{EXPLAIN}.target"
KEY_XAI_SHARED = f"{EXPLAIN}.shared_scale"
KEY_XAI_OPACITY = f"{EXPLAIN}.opacity"
KEY_XAI_LISTEN = f"{EXPLAIN}.listen_method"
KEY_XAI_TOPK = f"{EXPLAIN}.top_k"
KEY_XAI_LIME = f"{EXPLAIN}.lime_samples"
KEY_XAI_SG_SAMPLES = f"{EXPLAIN}.sg_samples"
KEY_XAI_SG_NOISE = f"{EXPLAIN}.sg_noise"
KEY_XAI_STEPS = f"{EXPLAIN}.steps"
KEY_XAI_TABLE_SCORE = f"{EXPLAIN}.table_score"

ADVERSARIAL = "adversarial"
KEY_ADV_MODEL = f"{ADVERSARIAL}.model"
KEY_ADV_SOURCE = f"{ADVERSARIAL}.source"
KEY_ADV_EMOTION = f"{ADVERSARIAL}.emotion"
KEY_ADV_FILE = f"{ADVERSARIAL}.file"
KEY_ADV_UPLOADER = f"{ADVERSARIAL}.uploader"
#: The uploaded clip (a :func:`~ui.clips.make_clip` dict), set by the uploader's ``on_change``
#: callback; tests put a clip here directly.
KEY_ADV_CLIP = f"{ADVERSARIAL}.clip.upload"
KEY_ADV_DOMAIN = f"{ADVERSARIAL}.domain"
KEY_ADV_TARGET = f"{ADVERSARIAL}.target"
#: Attack and epsilon widgets, one per domain (each keeps its own value).
KEY_ADV_ATTACK = {d: f"{ADVERSARIAL}.attack.{d}" for d in adv.DOMAINS}
KEY_ADV_EPS = {d: f"{ADVERSARIAL}.epsilon.{d}" for d in adv.DOMAINS}
#: "An attack you cannot hear" (issue #29, :mod:`ui.inaudible`): the target, the button, the
#: request it stored (``(clip id, model, target)``), the A/B/X trials of this session
#: (``{trial key: {"attacked", "x", "answer"}}``), the running score (``{"right", "total"}``)
#: and the trial's buttons.
KEY_INA_TARGET = f"{ADVERSARIAL}.inaudible.target"
KEY_INA_RUN = f"{ADVERSARIAL}.inaudible.run"
KEY_INA_REQUEST = f"{ADVERSARIAL}.inaudible.request"
KEY_INA_TRIALS = f"{ADVERSARIAL}.inaudible.trials"
KEY_INA_SCORE = f"{ADVERSARIAL}.inaudible.score"
KEY_INA_ANSWER = {x: f"{ADVERSARIAL}.inaudible.answer.{x}" for x in "AB"}
KEY_INA_NEW = f"{ADVERSARIAL}.inaudible.new_trial"
#: The Defences section (:mod:`ui.defences`): the defence, the epsilon, the button and the
#: settings it was last pressed for (a tuple; the result shows while they stay the same).
KEY_DEF_DEFENCE = f"{ADVERSARIAL}.defences.defence"
KEY_DEF_EPS = f"{ADVERSARIAL}.defences.epsilon"
KEY_DEF_RUN = f"{ADVERSARIAL}.defences.run"
KEY_DEF_REQUEST = f"{ADVERSARIAL}.defences.request"

#: "Are you better than the model?" (issue #30): the class listening quiz (:mod:`ui.quiz`).
QUIZ = "quiz"
#: The lecturer's form: how many clips, which kind of quiz, the model (heard) or speaker (new voice).
KEY_QUIZ_N = f"{QUIZ}.n_clips"
KEY_QUIZ_MODE = f"{QUIZ}.mode"
KEY_QUIZ_MODEL = f"{QUIZ}.model"
KEY_QUIZ_SPEAKER = f"{QUIZ}.speaker"
KEY_QUIZ_CREATE = f"{QUIZ}.create"
#: Reopening a quiz after a reload: its code and the lecturer's key.
KEY_QUIZ_OPEN_CODE = f"{QUIZ}.open.code"
KEY_QUIZ_OPEN_KEY = f"{QUIZ}.open.key"
KEY_QUIZ_OPEN = f"{QUIZ}.open"
#: The lecturer's quiz of this session: ``{"code": str, "token": str}`` (the key never leaves it).
KEY_QUIZ_LECTURER = f"{QUIZ}.lecturer"
KEY_QUIZ_CLOSE = f"{QUIZ}.close"
KEY_QUIZ_DELETE = f"{QUIZ}.delete"
KEY_QUIZ_NEW = f"{QUIZ}.new"
KEY_QUIZ_CSV = f"{QUIZ}.csv"
#: ``(kind, message)`` of the lecturer's last action ("success" / "info").
KEY_QUIZ_STATUS = f"{QUIZ}.status"
#: The student's side: the code typed, an optional nickname, this browser session's random
#: student id, the quiz joined (``{"code", "nickname"}``), the emotion picked, the buttons.
KEY_QUIZ_CODE = f"{QUIZ}.student.code"
KEY_QUIZ_NICK = f"{QUIZ}.student.nickname"
KEY_QUIZ_STUDENT = f"{QUIZ}.student.id"
KEY_QUIZ_JOINED = f"{QUIZ}.student.joined"
KEY_QUIZ_JOIN = f"{QUIZ}.student.join"
KEY_QUIZ_PICK = f"{QUIZ}.student.pick"
KEY_QUIZ_ANSWER = f"{QUIZ}.student.answer"
KEY_QUIZ_LEAVE = f"{QUIZ}.student.leave"
#: The student's last failed answer (a :class:`~ser_core.errors.SERError`, shown once).
KEY_QUIZ_ERROR = f"{QUIZ}.student.error"


#: Keys of the widgets whose value is a user's choice (pickers, switches, sliders, numbers,
#: names): they survive a page switch (:func:`keep_choices`).  Buttons, uploaders and
#: recorders are not here: Streamlit refuses to set their values, and their content is kept
#: elsewhere (:data:`KEY_PRED_CLIP`, :data:`KEY_CAL_CLIP`, :data:`KEY_XAI_UPLOAD`,
#: :data:`KEY_ADV_CLIP`).  ``tests/ui/test_state.py`` walks every page and fails on a
#: choice widget missing from this set.
CHOICES: frozenset[str] = frozenset(
    {
        KEY_LANG, KEY_SOURCE, KEY_EMOTION, KEY_SPEAKER, KEY_SENTENCE, KEY_SINGLE_REP, KEY_MEANS_REP,
        KEY_MEANS_DIFF, KEY_DESCRIPTOR, KEY_DESCRIPTOR_KIND, KEY_DESCRIPTOR_GENDER, KEY_PROJ_REP,
        KEY_PROJ_METHOD, KEY_PROJ_COLOR, KEY_ROOM, KEY_ROOM_SEED, KEY_ROOM_REP,
        KEY_PAIR_EMOTION, KEY_PAIR_INDEX,
        KEY_LB_MODELS, KEY_LB_INPUTS, KEY_LB_PROTOCOLS, KEY_LB_EVERY_RUN, KEY_LB_RUN,
        KEY_LB_COMPARE_A, KEY_LB_COMPARE_B, KEY_LB_ACC_PROTOCOL,
        KEY_PRED_MODEL, KEY_PRED_SOURCE, KEY_CAL_NAME, KEY_CAL_PICK, KEY_LIVE_ADAPT, KEY_LIVE_WARMUP,
        KEY_BATCH_LABELS, KEY_BATCH_UNSURE,
        KEY_FB_RIGHT, KEY_FB_CORRECT,
        KEY_XAI_MODEL, KEY_XAI_SOURCE, KEY_XAI_EMOTION, KEY_XAI_FILE, KEY_XAI_SPLIT, KEY_XAI_SPEAKER,
        KEY_XAI_TARGET,
        KEY_XAI_SHARED, KEY_XAI_OPACITY, KEY_XAI_LISTEN, KEY_XAI_TOPK, KEY_XAI_LIME,
        KEY_XAI_SG_SAMPLES, KEY_XAI_SG_NOISE, KEY_XAI_STEPS, KEY_XAI_TABLE_SCORE,
        KEY_ADV_MODEL, KEY_ADV_SOURCE, KEY_ADV_EMOTION, KEY_ADV_FILE, KEY_ADV_DOMAIN,
        KEY_ADV_TARGET, *KEY_ADV_ATTACK.values(), *KEY_ADV_EPS.values(), KEY_INA_TARGET,
        KEY_DEF_DEFENCE, KEY_DEF_EPS,
        KEY_QUIZ_N, KEY_QUIZ_MODE, KEY_QUIZ_MODEL, KEY_QUIZ_SPEAKER, KEY_QUIZ_OPEN_CODE, KEY_QUIZ_OPEN_KEY,
        KEY_QUIZ_CODE, KEY_QUIZ_NICK, KEY_QUIZ_PICK,
    }
)  # fmt: skip
#: Choice widgets deliberately forgotten when their page is left: consent is given
#: again each time, next to what it allows.
NOT_KEPT: frozenset[str] = frozenset({KEY_CAL_CONSENT, KEY_FB_CONSENT})


def keep_choices() -> None:
    """Keep every choice of :data:`CHOICES` for the session, whichever page is shown.

    Streamlit forgets a widget's value at the end of a run that did not draw the widget,
    so leaving a page would reset it.  Writing each stored choice back at the start of every
    run (``app.py`` calls this before the page) makes it a session value that outlives the
    page, and the widget picks it up again when its page is drawn (Streamlit's documented
    way to keep widget state across pages).
    """
    for key in CHOICES.intersection(st.session_state.keys()):
        st.session_state[key] = st.session_state[key]


def keep_valid(key: str, options: list) -> None:
    """Drop a widget's stored choice(s) that are no longer among ``options``.

    A selectbox value is forgotten (the widget falls back to its default), a
    multiselect keeps only the values still offered (runs come and go while
    the app is open).
    """
    if key not in st.session_state:
        return
    value = st.session_state[key]
    if isinstance(value, list):
        if any(v not in options for v in value):
            st.session_state[key] = [v for v in value if v in options]
    elif value not in options:
        del st.session_state[key]
