"""Explanations of one prediction, scored by a deletion test, made audible.

Algorithms apart from their evaluation (as captum keeps ``attr`` apart from ``metrics``):

* :mod:`~ser_core.explain.methods` – the explainers (and :mod:`~ser_core.explain.lrp`),
  registered in :mod:`~ser_core.explain.registry`;
* :mod:`~ser_core.explain.metrics` – the deletion metric of one map;
* :mod:`~ser_core.explain.faithfulness` – insertion and SpeechBrain's mask metrics (AI, AD,
  AG, faithfulness, input fidelity), every score of one map at once;
* :mod:`~ser_core.explain.benchmark` – the corpus-wide benchmark of every score.

>>> from ser_core import explain
>>> explain.gradcam(x, model=loaded.module)

Five explainers fill the registry :data:`EXPLAINERS`; each maps a normalised
model input ``x`` of shape ``(C, F, T)`` (channels, frequency bins, frames) to
a relevance map of the same shape for one output class:

==============  =============================================================
``gradcam``     Grad-CAM (captum ``LayerGradCam``) on the last convolutional
                block, ReLU'd, bilinearly upsampled to ``(F, T)``
``lrp``         Layer-wise relevance propagation on a copy of the network with
                batch norm folded into the convolutions (rules below); signed,
                sums to the explained logit
``smoothgrad``  SmoothGrad: absolute input gradient averaged over noisy copies
                (captum ``NoiseTunnel`` over ``Saliency``)
``lime``        LIME (captum ``Lime``, ridge surrogate) over a grid of
                time-frequency segments; signed, in probability units
``lmac``        L-MAC (:mod:`~ser_core.explain.lmac`): a decoder trained on the
                frozen classifier outputs a mask in 0..1 that keeps the class;
                only for a network a decoder was trained on
==============  =============================================================

>>> loaded = models.load("resnet18_mel")
>>> maps = explain_all(x, model=loaded.module)               # predicted class
>>> curves = deletion_test(x, maps, model=loaded.module, temperature=loaded.temperature)
>>> curves["lrp"].auc, curves["lrp"].drop_at(0.1)

LRP rules
---------
The network is first turned into a chain of *units* that compute exactly the
same logits (checked by :func:`lrp_forward`): every ``Conv2d`` followed by a
``BatchNorm2d`` becomes one convolution with folded weights
``W * gamma / sqrt(var + eps)`` and bias ``beta - gamma * mean / sqrt(var + eps)``
(exact in eval mode).  Relevance starts as the explained logit and flows back:

* dense layers: **LRP-epsilon**, ``R_j = sum_k a_j w_jk / (z_k + eps sign z_k) R_k``
  with ``z_k = sum_j a_j w_jk`` (the bias is *not* a sink, so its share is
  redistributed in proportion to the contributions);
* convolutions on ReLU activations: **LRP-z+** (alpha=1, beta=0),
  ``R_j = sum_k a_j w_jk^+ / sum_j a_j w_jk^+ R_k`` (biases ignored);
* the first convolution, whose input (the normalised spectrogram) is signed:
  the **z^B** (bounded-input) rule with bounds ``l = min(x)``, ``h = max(x)``;
* residual sums ``out = relu(main + shortcut)``: the z+ rule applied to the
  addition, i.e. each branch receives the relevance in proportion to its
  positive part, ``R_main = main^+ / (main^+ + shortcut^+) R``;
* max pooling: winner takes all; average pooling: proportional (z rule);
  ReLU, dropout (eval), flatten: relevance passes unchanged;
* fallback: an output with relevance but no contributing input (``z = 0``,
  e.g. a neuron active through its folded bias only) spreads its relevance
  evenly over its receptive field (flat rule), so none is lost.

Every rule conserves relevance, so the map sums to the logit up to the dense
layer's epsilon share and float32 rounding: the tests allow 0.5 % of
``|logit|`` + 1e-4.

Deletion test
-------------
:func:`deletion_curve` "removes" the most relevant input bins first by setting
them to the **baseline 0 of the normalised input, i.e. the training-set mean**
of that frequency bin (the model's notion of "nothing unusual here"), in steps
up to 100 %, and records the class probability (temperature-calibrated
softmax).  Scores: the area under that curve (lower is better) and the
probability drop after removing 10 % and 20 % of the bins (higher is better).
A random ordering is the reference.  A curve starting near 0 has nowhere to fall,
so the scores are reported only for a class the model gives at least the chance
level ``1 / n_classes`` (:func:`scorable`): for a class it rejects, every map would
look excellent.
"""

from .benchmark import (
    XAI_EXPERIMENT,
    deletion_table_path,
    evaluate_faithfulness,
    faithfulness_benchmark,
    faithfulness_table_path,
    load_deletion_table,
    save_deletion_table,
    stratified_sample,
    summarise_faithfulness,
)
from .faithfulness import (
    FAITHFULNESS_SCORES,
    MASK_TOP_K,
    Faithfulness,
    InsertionCurve,
    explanation_mask,
    faithfulness_scores,
    faithfulness_test,
    insertion_curve,
    mask_scores,
)
from .lmac import LMACDecoder, decoder_for, decoder_models, has_decoder, lmac
from .lrp import lrp_forward
from .methods import (
    PHASES,
    gradcam,
    gradcam_layer,
    lime,
    listen,
    lrp,
    smoothgrad,
    time_frequency_segments,
    top_k_mask,
)
from .metrics import (
    DROP_AT,
    DeletionCurve,
    chance_level,
    deletion_curve,
    deletion_fractions,
    deletion_test,
    random_relevance,
    scorable,
)
from .registry import (
    EXPLAINERS,
    Explainer,
    XAIOptions,
    explain,
    explain_all,
    explainer_names,
    get_explainer,
    normalise,
    predicted_class,
    register_explainer,
)

__all__ = [
    "DROP_AT",
    "EXPLAINERS",
    "FAITHFULNESS_SCORES",
    "MASK_TOP_K",
    "PHASES",
    "XAI_EXPERIMENT",
    "DeletionCurve",
    "Explainer",
    "Faithfulness",
    "InsertionCurve",
    "LMACDecoder",
    "XAIOptions",
    "chance_level",
    "deletion_curve",
    "deletion_fractions",
    "deletion_table_path",
    "deletion_test",
    "decoder_for",
    "decoder_models",
    "evaluate_faithfulness",
    "explain",
    "explain_all",
    "explainer_names",
    "explanation_mask",
    "faithfulness_scores",
    "faithfulness_benchmark",
    "faithfulness_table_path",
    "faithfulness_test",
    "get_explainer",
    "gradcam",
    "gradcam_layer",
    "insertion_curve",
    "has_decoder",
    "lime",
    "lmac",
    "listen",
    "load_deletion_table",
    "lrp",
    "lrp_forward",
    "mask_scores",
    "normalise",
    "predicted_class",
    "random_relevance",
    "register_explainer",
    "save_deletion_table",
    "scorable",
    "smoothgrad",
    "stratified_sample",
    "summarise_faithfulness",
    "time_frequency_segments",
    "top_k_mask",
]
