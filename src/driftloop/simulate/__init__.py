"""Replay a time-indexed dataset as production traffic and compare retraining policies (``driftloop simulate``)."""

from driftloop.simulate.replay import (
    ALL_POLICIES,
    POLICY_CONFIGS,
    RESULT_KEYS,
    Dataset,
    PolicyResult,
    SimulationSettings,
    parse_policy,
    simulate,
    simulate_policy,
)

__all__ = ["ALL_POLICIES", "POLICY_CONFIGS", "RESULT_KEYS", "Dataset", "PolicyResult", "SimulationSettings",
           "parse_policy", "simulate", "simulate_policy"]
