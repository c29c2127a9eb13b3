"""The loop through the service: the champion serves white wines, ground truth comes back as feedback, and
``driftloop retrain --data <inference log>`` trains, validates and promotes a challenger from what was logged."""

from __future__ import annotations

from pathlib import Path

import httpx
import pandas as pd
from click.testing import CliRunner

from driftloop.cli.retrain import retrain_command
from driftloop.data.inference_log import read_inference_log
from driftloop.tracking import connect
from driftloop.tracking.registry import CHAMPION, PREVIOUS_CHAMPION, alias_version
from tests.conftest import REPO, WINE_PROJECT, copy_store
from tests.serve.conftest import COLUMNS

MODEL = "wine-quality"


def test_retrain_from_the_inference_log_with_feedback(start_server, trained_wine_store: Path, tmp_path: Path) -> None:
    uri = copy_store(trained_wine_store, tmp_path)
    white = pd.read_csv(REPO / "examples" / "wine" / "data" / "winequality-white.csv", sep=";").iloc[:1200]
    log = tmp_path / "inference-log.db"
    server = start_server("--model", f"{MODEL}@champion", "--tracking-uri", uri, "--log", str(log))
    ids: list[str] = []
    with httpx.Client(base_url=server.url, timeout=60) as http:
        for start in range(0, len(white), 100):
            records = white[COLUMNS].iloc[start: start + 100].astype("float64").to_dict(orient="records")
            answer = http.post("/predict", json={"dataframe_records": records})
            assert answer.status_code == 200, answer.text
            ids.extend(answer.json()["ids"])
        unlabelled = 100  # the last rows' outcomes have not arrived yet: they must not be trained on
        feedback = [{"id": row_id, "label": int(label)}
                    for row_id, label in zip(ids[:-unlabelled], white["quality"].iloc[:-unlabelled], strict=True)]
        answer = http.post("/feedback", json=feedback)
        assert answer.status_code == 200 and answer.json()["orphans"] == 0, answer.text
    assert server.stop() is not None
    assert read_inference_log(log)["label"].notna().sum() == len(white) - unlabelled

    result = CliRunner().invoke(retrain_command, [
        "--model", MODEL, "--project", str(WINE_PROJECT), "--data", str(log), "--target", "quality",
        "--tracking-uri", uri, "-P", "alpha=0.01", "--margin", "0.02",
    ])
    assert result.exit_code == 0, result.output
    # version 2 is the validated challenger, version 3 its refit on every labelled row, which is promoted
    assert "Promoted: wine-quality@champion is version 3 (previous-champion: 1)" in result.output
    client = connect(uri)
    assert str(alias_version(client, MODEL, CHAMPION).version) == "3"
    assert str(alias_version(client, MODEL, PREVIOUS_CHAMPION).version) == "1"
    tags = client.get_model_version(MODEL, "3").tags
    # 1,100 labelled rows: the freshest 20 % (220) held out to validate version 2, trained on the other 880; the
    # refit uses all 1,100; the unlabelled rows are in neither
    assert int(tags["driftloop.validation.rows"]) == 220 and tags["driftloop.validated_version"] == "2"
    assert int(tags["driftloop.training_rows"]) == 1100
    assert int(client.get_model_version(MODEL, "2").tags["driftloop.training_rows"]) == 880
