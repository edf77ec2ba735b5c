""" "Are you better than the model?": a class listening quiz, kept in the app's SQLite database.

A lecturer creates a quiz (:func:`create_quiz`): N clips drawn from the seed split's
**test** clips, balanced by emotion, and the model's predictions on them, computed once
and stored.  Two kinds of quiz put the two numbers of a model in front of the class:

``heard``
    clips of the nine speakers a seed-split model was trained on (never these clips);
``new_voice``
    clips of one speaker that a leave-one-speaker-out (LOSO) fold model never heard,
    neither in training nor in validation (the card's ``training.protocol`` is
    ``loso``; its held-out speaker is the card's ``heldout_speaker``, else the test
    speaker of its fold).  Such models live in ``artifacts/heldout`` (the app does not
    list them) or ``artifacts/models``.

The model hears each clip as the app hears an upload: :meth:`Predictor.verdict
<ser_core.inference.Predictor.verdict>`, with no calibration to the voice.

Students join with a short code (six letters, none that can be mistaken for another),
an optional nickname and no account, and answer each clip once (:func:`answer`).  The
lecturer's key, returned at creation, opens :func:`results` (class against model,
confusion matrices, the clips where class and model disagree, the answers) and allows
:func:`close` and :func:`delete`.  A student's view (:func:`join`) holds only the
student's own answers: never a clip's emotion, name or the model's answer.

Storage: the tables ``quizzes``, ``quiz_clips`` and ``quiz_answers`` of the database of
:mod:`ser_core.feedback` (``feedback.sqlite3`` in :func:`~ser_core.feedback.default_data_dir`),
WAL mode with a 30-s busy timeout: each answer is one atomic statement, so thirty
students answering at once wait their turn and lose nothing.

The package: :mod:`~ser_core.quiz.store` (the tables, codes, the students' answers, closing
and deleting), :mod:`~ser_core.quiz.making` (which models, drawing the clips, the model's
answers, :func:`create_quiz`) and :mod:`~ser_core.quiz.results` (the lecturer's view).
"""

from .making import (
    FoldModel,
    create_quiz,
    draw_clips,
    fold_models,
    heard_models,
    heldout_dir,
    pick_fold_model,
    predict_clips,
)
from .results import QuizResults, results
from .store import (
    CODE_ALPHABET,
    CODE_LENGTH,
    DB_NAME,
    MAX_CLIPS,
    MIN_CLIPS,
    MODE_TITLES,
    MODES,
    NICKNAME_MAX,
    SCHEMA_VERSION,
    Quiz,
    StudentView,
    answer,
    check_nickname,
    clip_audio,
    close,
    delete,
    join,
    normalise_code,
    store_quiz,
)

__all__ = [
    "CODE_ALPHABET",
    "CODE_LENGTH",
    "DB_NAME",
    "FoldModel",
    "MAX_CLIPS",
    "MIN_CLIPS",
    "MODES",
    "MODE_TITLES",
    "NICKNAME_MAX",
    "Quiz",
    "QuizResults",
    "SCHEMA_VERSION",
    "StudentView",
    "answer",
    "check_nickname",
    "clip_audio",
    "close",
    "create_quiz",
    "delete",
    "draw_clips",
    "fold_models",
    "heard_models",
    "heldout_dir",
    "join",
    "normalise_code",
    "pick_fold_model",
    "predict_clips",
    "results",
    "store_quiz",
]
