"""A tiny prediction endpoint for the model ``example_ml_training`` publishes to object storage.

Training is batch work for the scheduler; answering requests is not, so (as in the seeds) the
endpoint runs on its own::

    TRADEWIND_CONN_AWS='{"conn_type": "aws", "login": "KEY", "password": "SECRET",
                         "extra": {"endpoint_url": "http://localhost:9000"}}' \\
        uvicorn tradewind.examples.serving.predict_app:app --port 8000

    curl -X POST localhost:8000/predict -H 'content-type: application/json' \\
         -d '{"instances": [[0, 0, 5, 13, 9, 1, 0, 0, ...64 pixel values 0..16...]]}'

- ``POST /predict`` — ``{"instances": [[64 pixels], ...]}`` → ``{"predictions": [digit, ...],
  "model": {published metrics}}``; 422 naming the bad instance when a row is not 64 values in 0..16.
- ``GET /model`` — metrics of the model in service; ``POST /reload`` — pick up a newly published one.
- 503 while nothing has been published yet.

The model is read from ``s3://<bucket>/digits/published/model.joblib`` through the connection
``aws`` (``PREDICT_APP_CONN_ID`` and ``PREDICT_APP_BUCKET`` override the connection id and the
bucket) on the first request, then kept in memory until ``/reload``.
"""

from __future__ import annotations

import os
import threading
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from tradewind.examples import ml_store

PIXELS = 64

Pixels = Annotated[list[Annotated[float, Field(ge=0, le=16)]], Field(min_length=PIXELS, max_length=PIXELS)]


class PredictRequest(BaseModel):
    """Images of 8x8 digits, each flattened to 64 grey levels (0 = white, 16 = black)."""

    instances: Annotated[list[Pixels], Field(min_length=1, max_length=10_000)]


class PredictResponse(BaseModel):
    predictions: list[int]
    model: dict[str, Any]


class PublishedModel:
    """The published model and its metrics, loaded once and swapped atomically on reload."""

    def __init__(self, bucket: str, conn_id: str) -> None:
        self.bucket = bucket
        self.conn_id = conn_id
        self._lock = threading.Lock()
        self._loaded: tuple[Any, dict[str, Any]] | None = None

    def get(self) -> tuple[Any, dict[str, Any]]:
        """(model, metrics), loading them on first use; 503 while nothing is published."""
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
            return self._loaded

    def reload(self) -> dict[str, Any]:
        with self._lock:
            self._loaded = self._load()
            return self._loaded[1]

    def _load(self) -> tuple[Any, dict[str, Any]]:
        hook = ml_store.s3_hook(self.conn_id)
        metrics = ml_store.published_metrics(hook, self.bucket)
        if metrics is None:
            raise HTTPException(503, f"no model published in s3://{self.bucket}/{ml_store.PUBLISHED_MODEL_KEY} yet")
        return ml_store.get_object(hook, ml_store.PUBLISHED_MODEL_KEY, self.bucket), metrics


def create_app(*, bucket: str | None = None, conn_id: str | None = None) -> FastAPI:
    """The ASGI app serving the model published in ``bucket`` (reached through ``conn_id``)."""
    published = PublishedModel(
        bucket or os.environ.get("PREDICT_APP_BUCKET", ml_store.DEFAULT_BUCKET),
        conn_id or os.environ.get("PREDICT_APP_CONN_ID", ml_store.AWS_CONN_ID),
    )
    app = FastAPI(title="Digits classifier", description="Serves the model published by example_ml_training")

    @app.post("/predict", response_model=PredictResponse)
    def predict(request: PredictRequest) -> PredictResponse:
        import numpy as np

        model, metrics = published.get()
        labels = model.predict(np.asarray(request.instances, dtype=float))
        return PredictResponse(predictions=[int(label) for label in labels], model=metrics)

    @app.get("/model")
    def model_info() -> dict[str, Any]:
        return published.get()[1]

    @app.post("/reload")
    def reload() -> dict[str, Any]:
        return published.reload()

    return app


#: For ``uvicorn tradewind.examples.serving.predict_app:app``; nothing is read until the first request.
app = create_app()
