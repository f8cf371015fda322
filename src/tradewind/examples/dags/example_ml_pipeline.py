"""Train, evaluate and (if good enough) deploy a digit classifier on scikit-learn's bundled data.

scikit-learn is imported inside the tasks, so this file parses in milliseconds and
even where scikit-learn is missing (install it with ``pip install 'tradewind[examples]'``).
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

from tradewind import DAG, BranchPythonOperator, EmptyOperator, Param, TriggerRule, task
from tradewind.examples.support import data_folder, run_folder

PIPELINE = "ml_pipeline"

with DAG(
    dag_id="example_ml_pipeline",
    description="Digits classifier: preprocess, train, evaluate, deploy if accurate, predict",
    schedule="@weekly",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    # One training run at a time: runs share the deployed/ folder.
    max_active_runs=1,
    is_paused_upon_creation=True,
    tags=["example", "ml"],
    params={
        "model": Param("logistic_regression", enum=["logistic_regression", "svc"],
                       description="Which classifier to train"),
        "accuracy_threshold": Param(0.9, type="number", minimum=0, maximum=1,
                                    description="Deploy only when test accuracy reaches this"),
        "test_size": Param(0.25, type="number", minimum=0.05, maximum=0.9,
                           description="Share of the samples held out for evaluation"),
        "random_state": Param(42, type="integer", description="Seed for the split and the model"),
    },
    default_args={"owner": "tradewind"},
    doc_md="""
### ML pipeline: handwritten digits

The offline-training pipeline of the classic MNIST tutorials, on scikit-learn's
bundled **digits** set (8x8 images, no download):

`preprocess` (split + scale, save arrays) → `train` (fit, save the model with joblib)
→ `evaluate` (accuracy to XCom, `metrics.json`) → `check_accuracy` (branch) →
`deploy_model` when accuracy ≥ the `accuracy_threshold` param, else `skip_deploy` →
`predict` (load the deployed model, write `predictions.csv`) → `done`.

Artifacts go to `<data folder>/ml_pipeline/<run id>/`; the deployed model to
`<data folder>/ml_pipeline/deployed/`. Needs `pip install 'tradewind[examples]'`.
""",
) as dag:

    @task
    def preprocess(params=None, run_id=None) -> dict:
        """Split the digits 75/25 (stratified), fit a scaler on the training part, save arrays."""
        import joblib
        import numpy as np
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler

        folder = run_folder(PIPELINE, run_id)
        digits = load_digits()
        x_train, x_test, y_train, y_test = train_test_split(
            digits.data, digits.target, test_size=float(params["test_size"]),
            random_state=int(params["random_state"]), stratify=digits.target,
        )
        scaler = StandardScaler().fit(x_train)
        np.savez_compressed(folder / "train.npz", x=scaler.transform(x_train), y=y_train)
        np.savez_compressed(folder / "test.npz", x=scaler.transform(x_test), y=y_test)
        joblib.dump(scaler, folder / "scaler.joblib")
        print(f"{len(y_train)} training and {len(y_test)} test samples written to {folder}")
        return {"folder": str(folder), "n_train": int(len(y_train)), "n_test": int(len(y_test))}

    @task
    def train(prepared: dict, params=None) -> str:
        """Fit the chosen classifier on the scaled training arrays; save it with joblib."""
        import joblib
        import numpy as np
        from sklearn.linear_model import LogisticRegression
        from sklearn.svm import SVC

        folder = Path(prepared["folder"])
        data = np.load(folder / "train.npz")
        if params["model"] == "svc":
            model = SVC(gamma="scale", random_state=int(params["random_state"]))
        else:
            model = LogisticRegression(max_iter=2000, random_state=int(params["random_state"]))
        model.fit(data["x"], data["y"])
        path = folder / "model.joblib"
        joblib.dump(model, path)
        return str(path)

    @task
    def evaluate(model_path: str) -> float:
        """Accuracy on the held-out samples (the XCom), plus ``metrics.json`` with per-class detail."""
        import joblib
        import numpy as np
        from sklearn.metrics import accuracy_score, classification_report, confusion_matrix

        folder = Path(model_path).parent
        model = joblib.load(model_path)
        test = np.load(folder / "test.npz")
        predicted = model.predict(test["x"])
        accuracy = float(accuracy_score(test["y"], predicted))
        metrics = {
            "accuracy": accuracy,
            "n_test": int(len(test["y"])),
            "per_class": classification_report(test["y"], predicted, output_dict=True, zero_division=0),
            "confusion_matrix": confusion_matrix(test["y"], predicted).tolist(),
        }
        (folder / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
        print(f"test accuracy: {accuracy:.4f}")
        return accuracy

    def choose_deployment(ti, params) -> str:
        accuracy = ti.xcom_pull(task_ids="evaluate")
        threshold = float(params["accuracy_threshold"])
        if accuracy is not None and accuracy >= threshold:
            print(f"accuracy {accuracy:.4f} >= {threshold}: deploying")
            return "deploy_model"
        print(f"accuracy {accuracy} < {threshold}: not deploying")
        return "skip_deploy"

    check_accuracy = BranchPythonOperator(task_id="check_accuracy", python_callable=choose_deployment)
    skip_deploy = EmptyOperator(task_id="skip_deploy")

    @task
    def deploy_model(model_path: str, run_id=None) -> str:
        """Copy the model (and its scaler) to the ``deployed/`` folder, with a note of where it came from."""
        source = Path(model_path).parent
        target = Path(data_folder()) / PIPELINE / "deployed"
        target.mkdir(parents=True, exist_ok=True)
        for name in ("model.joblib", "scaler.joblib", "metrics.json"):
            shutil.copy2(source / name, target / name)
        (target / "DEPLOYED_FROM").write_text(f"{run_id}\n{source}\n", encoding="utf-8")
        return str(target / "model.joblib")

    @task
    def predict(deployed_model: str, prepared: dict) -> str:
        """Predict the held-out samples with the deployed model; write ``predictions.csv``."""
        import joblib
        import numpy as np

        folder = Path(prepared["folder"])
        model = joblib.load(deployed_model)
        test = np.load(folder / "test.npz")
        predicted = model.predict(test["x"])
        lines = ["index,true_label,predicted_label"]
        lines += [f"{i},{int(t)},{int(p)}" for i, (t, p) in enumerate(zip(test["y"], predicted))]
        out = folder / "predictions.csv"
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")
        correct = int((predicted == test["y"]).sum())
        print(f"{correct}/{len(predicted)} predictions correct, written to {out}")
        return str(out)

    done = EmptyOperator(task_id="done", trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)

    prepared = preprocess()
    model_path = train(prepared)
    accuracy = evaluate(model_path)
    deployed = deploy_model(model_path)
    accuracy >> check_accuracy >> [deployed, skip_deploy]
    predict(deployed, prepared) >> done
    skip_deploy >> done
