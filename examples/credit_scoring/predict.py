"""Score loan requests with the trained model and features read online from DynamoDB.

Run (after train.py and `ladle materialize-incremental now` in feature_repo/): python predict.py
Prints one JSON line per request: the request, its probability of default and the decision.
"""

from __future__ import annotations

import json

import pandas as pd

from credit_model import REPO, CreditScoringModel


def sample_requests(n: int = 3) -> list[dict[str, object]]:
    """A few applications from people and places the store knows (the loans file's first rows)."""
    loans = pd.read_parquet(REPO / "data" / "loans.parquet").head(n)
    fields = ["zipcode", "dob_ssn", "person_age", "person_income", "loan_amnt", "loan_int_rate"]
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()} for row in loans[fields].to_dict("records")]


def main() -> None:
    model = CreditScoringModel().load()
    requests = sample_requests()
    for request, p in zip(requests, model.predict(requests), strict=True):
        print(json.dumps({**request, "probability_of_default": round(p, 4), "approved": p < 0.5}))


if __name__ == "__main__":
    main()
