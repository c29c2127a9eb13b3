"""driftloop: keep production ML models accurate.

Watches a deployed model's inputs, predictions and late labels, measures drift, data quality and performance
window by window, writes every figure to MLflow, raises calibrated alerts and closes the retrain loop.
"""

from driftloop.settings import disable_mlflow_telemetry

disable_mlflow_telemetry()

__version__ = "0.1.0"
