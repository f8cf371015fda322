"""Daily training of a digit classifier with its artifacts in S3-compatible object storage; the model
is published only when it beats the one in service.

The seeds' offline-training pipeline (copy data -> transform -> train -> deploy) without a cloud:
scikit-learn's bundled digits set, an S3 bucket reached through the ``aws`` connection (its extra's
``endpoint_url`` points at any S3-compatible server), and a prediction endpoint outside the DAG
(``tradewind.examples.serving.predict_app``) that serves whatever is published.
scikit-learn, numpy and boto3 are imported inside the tasks, so the file parses without them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tradewind import DAG, AirflowFailException, EmptyOperator, Param, TriggerRule, task
from tradewind.examples import ml_store

#: Fewer samples than this in an interval's sample and the run stops at ``validate``.
MIN_SAMPLES = 500
#: Each digit must appear at least this often, or the split cannot be stratified sensibly.
MIN_PER_CLASS = 20

with DAG(
    dag_id="example_ml_training",
    description="Digits: load -> validate -> preprocess -> train -> evaluate -> publish if better -> predict",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    # One run at a time: runs compare against (and replace) the same published model.
    max_active_runs=1,
    is_paused_upon_creation=True,
    tags=["example", "ml", "s3"],
    default_args={"owner": "tradewind", "retries": 1, "retry_delay": timedelta(seconds=5)},
    params={
        "bucket": Param(ml_store.DEFAULT_BUCKET, type="string", description="Bucket for every artifact"),
        "sample_fraction": Param(0.7, type="number", minimum=0.3, maximum=1.0,
                                 description="Share of the digits that make up one interval's data"),
        "min_improvement": Param(0.0, type="number", minimum=0, maximum=1,
                                 description="Publish only when accuracy beats the current model by more than this"),
        "C": Param(1.0, type="number", exclusiveMinimum=0, description="Inverse regularisation strength"),
    },
    doc_md="""
### ML training with object storage

Each daily run works on **its data interval**: a deterministic sample of scikit-learn's bundled
digits (seeded by the interval start), so re-running an interval reproduces it exactly.

`load_data` → `validate` (shape, value range, every class present) → `preprocess` (stratified
split, scaler) → `train` (logistic regression; scaler + classifier saved as one pipeline) →
`evaluate` (accuracy and macro F1 as XCom, `metrics.json`) → `compare` (branch) →
`publish_model` when the candidate beats the published model by more than `min_improvement`,
else `keep_current` → `batch_predict` (the published model labels the interval's held-out digits).

Artifacts live in S3 (connection `aws`, e.g.
`TRADEWIND_CONN_AWS='{"conn_type": "aws", "login": "KEY", "password": "SECRET",
"extra": {"endpoint_url": "http://localhost:9000", "region_name": "us-east-1"}}'`):
`digits/runs/<interval start>/…` per run and `digits/published/{model.joblib,metrics.json}`.
Serve the published model with
`uvicorn tradewind.examples.serving.predict_app:app` (POST /predict).
Needs `pip install 'tradewind[examples,s3]'`.
""",
) as dag:

    @task
    def load_data(data_interval_start=None, params=None) -> dict:
        """This interval's sample of the digits (seeded by the interval start) plus the rest as the batch
        to predict; both stored as ``sample.npz``."""
        import numpy as np
        from sklearn.datasets import load_digits

        digits = load_digits()
        seed = int(data_interval_start.strftime("%Y%m%d%H"))
        order = np.random.default_rng(seed).permutation(len(digits.target))
        size = int(round(len(order) * float(params["sample_fraction"])))
        sample, batch = np.sort(order[:size]), np.sort(order[size:])
        hook = ml_store.s3_hook()
        bucket = params["bucket"]
        ml_store.ensure_bucket(hook, bucket)
        key = ml_store.run_prefix(data_interval_start) + "sample.npz"
        ml_store.put_arrays(hook, key, bucket, x=digits.data[sample], y=digits.target[sample],
                            batch_x=digits.data[batch], batch_y=digits.target[batch])
        print(f"interval {data_interval_start}: {size} samples (seed {seed}), {len(batch)} held out -> {key}")
        return {"key": key, "rows": size, "batch_rows": int(len(batch)), "seed": seed}

    @task
    def validate(loaded: dict, params=None) -> dict:
        """Refuse data a model should not be trained on (fails without retry, naming the check)."""
        import numpy as np

        data = ml_store.get_arrays(ml_store.s3_hook(), loaded["key"], params["bucket"])
        x, y = data["x"], data["y"]
        problems = []
        if x.ndim != 2 or x.shape[1] != 64:
            problems.append(f"expected 64 pixel columns, got shape {x.shape}")
        if len(x) != len(y):
            problems.append(f"{len(x)} images but {len(y)} labels")
        if len(x) < MIN_SAMPLES:
            problems.append(f"only {len(x)} samples (at least {MIN_SAMPLES} needed)")
        if not np.isfinite(x).all() or x.min() < 0 or x.max() > 16:
            problems.append("pixel values must be finite and within 0..16")
        counts = np.bincount(y.astype(int), minlength=10)
        if len(counts) != 10 or counts.min() < MIN_PER_CLASS:
            problems.append(f"every digit needs {MIN_PER_CLASS} samples; counts per digit: {counts.tolist()}")
        if problems:
            raise AirflowFailException("data validation failed: " + "; ".join(problems))
        summary = {"rows": int(len(y)), "per_class": counts.tolist()}
        print(f"data valid: {summary}")
        return summary

    @task
    def preprocess(loaded: dict, data_interval_start=None, params=None) -> dict:
        """Stratified 75/25 split; a scaler fitted on the training part; arrays + scaler to S3."""
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler

        hook, bucket = ml_store.s3_hook(), params["bucket"]
        data = ml_store.get_arrays(hook, loaded["key"], bucket)
        x_train, x_test, y_train, y_test = train_test_split(
            data["x"], data["y"], test_size=0.25, random_state=loaded["seed"] % 2**32, stratify=data["y"])
        scaler = StandardScaler().fit(x_train)
        prefix = ml_store.run_prefix(data_interval_start)
        ml_store.put_arrays(hook, prefix + "split.npz", bucket, x_train=scaler.transform(x_train), y_train=y_train,
                            x_test_raw=x_test, y_test=y_test)
        ml_store.put_object(hook, scaler, prefix + "scaler.joblib", bucket)
        return {"split_key": prefix + "split.npz", "scaler_key": prefix + "scaler.joblib",
                "n_train": int(len(y_train)), "n_test": int(len(y_test))}

    @task
    def train(prepared: dict, data_interval_start=None, params=None) -> str:
        """Fit the classifier on the scaled training part; store scaler + classifier as one pipeline,
        so whoever loads the model feeds it raw pixels."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline

        hook, bucket = ml_store.s3_hook(), params["bucket"]
        split = ml_store.get_arrays(hook, prepared["split_key"], bucket)
        scaler = ml_store.get_object(hook, prepared["scaler_key"], bucket)
        classifier = LogisticRegression(C=float(params["C"]), max_iter=3000)
        classifier.fit(split["x_train"], split["y_train"])
        key = ml_store.run_prefix(data_interval_start) + "model.joblib"
        ml_store.put_object(hook, Pipeline([("scale", scaler), ("classify", classifier)]), key, bucket)
        return key

    @task
    def evaluate(model_key: str, prepared: dict, data_interval_start=None, params=None, run_id=None) -> dict:
        """Accuracy and macro F1 on the held-out test part: the XCom, and ``metrics.json`` beside the model."""
        from sklearn.metrics import accuracy_score, f1_score

        hook, bucket = ml_store.s3_hook(), params["bucket"]
        split = ml_store.get_arrays(hook, prepared["split_key"], bucket)
        predicted = ml_store.get_object(hook, model_key, bucket).predict(split["x_test_raw"])
        metrics = {
            "accuracy": round(float(accuracy_score(split["y_test"], predicted)), 6),
            "f1_macro": round(float(f1_score(split["y_test"], predicted, average="macro")), 6),
            "n_train": prepared["n_train"],
            "n_test": prepared["n_test"],
            "model_key": model_key,
            "run_id": run_id,
            "data_interval_start": data_interval_start.isoformat(),
        }
        ml_store.put_json(hook, metrics, ml_store.run_prefix(data_interval_start) + "metrics.json", bucket)
        print(f"candidate accuracy {metrics['accuracy']:.4f}, macro F1 {metrics['f1_macro']:.4f}")
        return metrics

    @task.branch
    def compare(candidate: dict, params=None) -> str:
        """``publish_model`` when nothing is published yet or the candidate is better by more than
        ``min_improvement``; ``keep_current`` otherwise (a tie keeps the model in service)."""
        current = ml_store.published_metrics(ml_store.s3_hook(), params["bucket"])
        if current is None:
            print("no model published yet: publishing the candidate")
            return "publish_model"
        margin = candidate["accuracy"] - current["accuracy"]
        print(f"candidate {candidate['accuracy']:.4f} vs published {current['accuracy']:.4f} "
              f"(from {current['run_id']}): {margin:+.4f}")
        return "publish_model" if margin > float(params["min_improvement"]) else "keep_current"

    @task
    def publish_model(candidate: dict, params=None) -> dict:
        """Copy the candidate and its metrics to ``digits/published/`` (model first, so the metrics
        never describe a model that is not there yet)."""
        hook, bucket = ml_store.s3_hook(), params["bucket"]
        hook.copy_object(candidate["model_key"], ml_store.PUBLISHED_MODEL_KEY,
                         source_bucket_name=bucket, dest_bucket_name=bucket)
        ml_store.put_json(hook, candidate, ml_store.PUBLISHED_METRICS_KEY, bucket)
        print(f"published {candidate['model_key']} (accuracy {candidate['accuracy']:.4f})")
        return {"model": f"s3://{bucket}/{ml_store.PUBLISHED_MODEL_KEY}", "accuracy": candidate["accuracy"]}

    keep_current = EmptyOperator(task_id="keep_current")

    @task(trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    def batch_predict(loaded: dict, data_interval_start=None, params=None) -> dict:
        """Label the interval's held-out digits with the published model; ``predictions.csv`` to S3."""
        hook, bucket = ml_store.s3_hook(), params["bucket"]
        data = ml_store.get_arrays(hook, loaded["key"], bucket)
        model = ml_store.get_object(hook, ml_store.PUBLISHED_MODEL_KEY, bucket)
        serving = ml_store.published_metrics(hook, bucket)
        predicted = model.predict(data["batch_x"])
        lines = ["row,true_label,predicted_label"]
        lines += [f"{i},{int(t)},{int(p)}" for i, (t, p) in enumerate(zip(data["batch_y"], predicted))]
        key = ml_store.run_prefix(data_interval_start) + "predictions.csv"
        hook.load_string("\n".join(lines) + "\n", key=key, bucket_name=bucket, replace=True)
        correct = int((predicted == data["batch_y"]).sum())
        print(f"{correct}/{len(predicted)} held-out digits labelled correctly by the model of {serving['run_id']}")
        return {"key": key, "rows": int(len(predicted)), "correct": correct, "model_run_id": serving["run_id"]}

    loaded = load_data()
    prepared = preprocess(loaded)
    validate(loaded) >> prepared
    model_key = train(prepared)
    metrics = evaluate(model_key, prepared)
    published = publish_model(metrics)
    compare(metrics) >> [published, keep_current]
    [published, keep_current] >> batch_predict(loaded)
