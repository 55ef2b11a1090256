"""Train the churn model on historical features (point-in-time correct) and save it."""

from __future__ import annotations

import pandas as pd
from churn_model import MODEL, NAMES, REPO, save, train

from ladle import FeatureStore


def main() -> None:
    labels = pd.read_parquet(REPO / "data" / "labels.parquet")
    model, data = train(FeatureStore(repo_path=REPO), labels)
    save(model)
    accuracy = model.score(data[NAMES].to_numpy(dtype="float64"),
                           data["churned"].to_numpy())
    print(f"trained on {len(data):,} labelled moments; training accuracy {accuracy:.2f}; saved {MODEL.name}")


if __name__ == "__main__":
    main()
