"""idgraph.link: Splink model, training, constrained clustering, persistent ids,
explanations, judgements and evaluation."""

from idgraph.link.config import RULES, LinkConfig, Rule
from idgraph.link.constraints import Constraints
from idgraph.link.evaluate import Evaluation, evaluate, evaluate_files
from idgraph.link.explain import Explanation, Feature, explain
from idgraph.link.judge import Judgement, Verdict, judge, latest_verdicts
from idgraph.link.resolve import ResolveSummary, resolve
from idgraph.link.train import TrainedModel, latest_model, train

__all__ = [
    "RULES", "Constraints", "Evaluation", "Explanation", "Feature", "Judgement", "LinkConfig",
    "ResolveSummary", "Rule", "TrainedModel", "Verdict", "evaluate", "evaluate_files",
    "explain", "judge", "latest_model", "latest_verdicts", "resolve", "train",
]
