"""The loop's data path: the service logs predictions and late labels, the monitor reads its log directly."""

import json

import pandas as pd
from click.testing import CliRunner
from fastapi.testclient import TestClient

from driftloop.cli.main import cli
from driftloop.serve.service import build_service
from tests.conftest import WINE_PROJECT, copy_store


def test_monitor_reads_the_service_log_with_its_late_labels(trained_wine_store, workdir):
    uri = copy_store(trained_wine_store, workdir)
    white = pd.read_csv(WINE_PROJECT / "data" / "winequality-white.csv", sep=";").iloc[:600]
    features = white.drop(columns=["quality"])
    log_path = workdir / "inference-log.db"
    app = build_service("wine-quality@champion", tracking_uri=uri, log_path=log_path)
    with TestClient(app) as client:
        ids = []
        for start in range(0, len(features), 100):
            batch = features.iloc[start: start + 100]
            response = client.post("/predict", json={"dataframe_split": batch.to_dict(orient="split")})
            assert response.status_code == 200, response.text
            ids.extend(response.json()["ids"])
        labels = [{"id": i, "label": int(q)} for i, q in zip(ids[:300], white["quality"].iloc[:300], strict=True)]
        assert client.post("/feedback", json=labels).status_code == 200
    result = CliRunner().invoke(cli, ["monitor", "--model", "wine-quality@champion", "--data", str(log_path),
                                      "--rows", "200", "--format", "json", "--tracking-uri", uri])
    assert result.exit_code in (0, 3), result.output
    windows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [w["rows"] for w in windows] == [200, 200, 200]
    assert [w["metrics"]["performance/label_coverage"] for w in windows] == [1.0, 0.5, 0.0]
    assert all(w["metrics"]["quality/extra_columns"] == 0 for w in windows)  # log bookkeeping is not "extra"
    assert windows[0]["metrics"]["drift/total sulfur dioxide/ks"] > 0.5
    assert "performance/mae" in windows[0]["metrics"] and "performance/mae" not in windows[2]["metrics"]
