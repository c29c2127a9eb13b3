"""The prediction service: serves a registered model, logs every answered row durably, takes late labels.

Needs the ``serve`` extra (FastAPI, uvicorn, prometheus-client). Build the app with :func:`create_app` (or
:func:`driftloop.serve.service.build_service` from a model reference and a log path) and run it with uvicorn;
``driftloop serve`` does both.
"""
