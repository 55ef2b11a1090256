"""Train the credit model on point-in-time-correct features from PostgreSQL; save it to data/model.pkl.

Run (after load_data.py and `ladle apply` in feature_repo/): python train.py
"""

from __future__ import annotations

import pandas as pd

from credit_model import MODEL, REPO, TARGET, CreditScoringModel


def main() -> None:
    loans = pd.read_parquet(REPO / "data" / "loans.parquet")
    train, test = loans[loans["loan_id"] % 5 != 0], loans[loans["loan_id"] % 5 == 0]
    model = CreditScoringModel()
    data = model.train(train)
    held_out = model.training_set(test)
    accuracy = float(((model.predict_proba(held_out) > 0.5) == held_out[TARGET]).mean())
    baseline = float(max(held_out[TARGET].mean(), 1 - held_out[TARGET].mean()))
    model.save()
    print(f"trained on {len(data)} loans with {len(model.columns)} features; "
          f"held-out accuracy {accuracy:.3f} (always-the-majority baseline {baseline:.3f}); saved {MODEL.name}")


if __name__ == "__main__":
    main()
