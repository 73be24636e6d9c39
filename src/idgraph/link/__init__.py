"""idgraph.link: Splink model, training, constrained clustering, persistent ids,
explanations, judgements, evaluation, in-process scoring and live attach."""

from idgraph.link.attach import (
    AttachError,
    AttachResult,
    LiveLinker,
    attach,
    register_after_attach,
)
from idgraph.link.config import RULES, LinkConfig, Rule
from idgraph.link.constraints import Constraints
from idgraph.link.evaluate import Evaluation, evaluate, evaluate_files
from idgraph.link.judge import Judgement, Verdict, judge, latest_verdicts
from idgraph.link.resolve import ResolveSummary, resolve
from idgraph.link.score import LevelHit, PairScore, Scorer, input_rows
from idgraph.link.train import TrainedModel, latest_model, train

__all__ = [
    "RULES", "AttachError", "AttachResult", "Constraints", "Evaluation", "Judgement", "LevelHit",
    "LinkConfig", "LiveLinker", "PairScore", "ResolveSummary", "Rule", "Scorer", "TrainedModel",
    "Verdict", "attach", "evaluate", "evaluate_files", "input_rows", "judge", "latest_model",
    "latest_verdicts", "register_after_attach", "resolve", "train",
]
