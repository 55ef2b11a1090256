"""Create the example's PostgreSQL tables (zipcode_features, credit_history) and the loans to train on.

Synthetic and deterministic (dates relative to today): 300 zipcodes with two yearly snapshots, 3,000 people with monthly credit
snapshots, and 8,000 loan applications (data/loans.parquet) whose outcome depends on those features.
Run: python load_data.py   (uses the PostgreSQL settings of feature_repo/feature_store.yaml)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from ladle import FeatureStore
from ladle.drivers.postgres_conn import conninfo

HERE = Path(__file__).parent
REPO = HERE / "feature_repo"
# Relative to today, so that the newest credit snapshots are inside credit_history's 90-day ttl when served.
START = datetime.now(UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0) - timedelta(days=200)
CITIES = [("FORT WORTH", "TX"), ("AUSTIN", "TX"), ("DENVER", "CO"), ("BOSTON", "MA"), ("SEATTLE", "WA"),
          ("TAMPA", "FL"), ("OMAHA", "NE"), ("RENO", "NV")]


def zipcodes(rng: np.random.Generator) -> pd.DataFrame:
    n = 300
    city = rng.integers(0, len(CITIES), n)
    base = pd.DataFrame({
        "zipcode": 76000 + np.arange(n),
        "city": [CITIES[c][0] for c in city],
        "state": [CITIES[c][1] for c in city],
        "location_type": rng.choice(["PRIMARY", "ACCEPTABLE", "NOT ACCEPTABLE"], n, p=[0.7, 0.2, 0.1]),
        "tax_returns_filed": rng.integers(1_000, 40_000, n),
        "population": rng.integers(2_000, 70_000, n),
    })
    base["total_wages"] = base["tax_returns_filed"] * rng.integers(20_000, 90_000, n)
    snapshots = []
    for year in range(2):
        snap = base.copy()
        snap["population"] = (snap["population"] * (1 + 0.02 * year)).astype("int64")
        snap["event_timestamp"] = START + timedelta(days=365 * year - 365)
        snap["created_timestamp"] = snap["event_timestamp"] + timedelta(days=1)
        snapshots.append(snap)
    return pd.concat(snapshots, ignore_index=True)


def credit_history(rng: np.random.Generator) -> pd.DataFrame:
    n = 3_000
    people = pd.DataFrame({
        "dob_ssn": [f"19{rng.integers(50, 99)}0{rng.integers(1, 9)}1{rng.integers(0, 9)}_{rng.integers(1000, 9999)}"
                    for _ in range(n)],
        "risk": rng.beta(2, 5, n),
    }).drop_duplicates("dob_ssn")
    snapshots = []
    for month in range(6):
        snap = pd.DataFrame({"dob_ssn": people["dob_ssn"]})
        risk = np.clip(people["risk"].to_numpy() + rng.normal(0, 0.03, len(people)), 0, 1)
        snap["credit_card_due"] = (risk * 9_000 + rng.integers(0, 1_500, len(people))).astype("int64")
        snap["mortgage_due"] = rng.integers(0, 400_000, len(people))
        snap["student_loan_due"] = rng.integers(0, 40_000, len(people))
        snap["vehicle_loan_due"] = rng.integers(0, 30_000, len(people))
        snap["hard_pulls"] = rng.poisson(risk * 4)
        snap["missed_payments_2y"] = rng.poisson(risk * 6)
        snap["missed_payments_1y"] = rng.poisson(risk * 3)
        snap["missed_payments_6m"] = rng.poisson(risk * 1.5)
        snap["bankruptcies"] = rng.binomial(1, np.clip(risk - 0.4, 0, 1))
        snap["event_timestamp"] = START + timedelta(days=30 * month)
        snap["created_timestamp"] = snap["event_timestamp"] + timedelta(hours=6)
        snapshots.append(snap)
    return pd.concat(snapshots, ignore_index=True)


def loans(rng: np.random.Generator, zips: pd.DataFrame, credit: pd.DataFrame) -> pd.DataFrame:
    n = 8_000
    people = credit["dob_ssn"].unique()
    frame = pd.DataFrame({
        "loan_id": np.arange(n),
        "zipcode": rng.choice(zips["zipcode"].unique(), n),
        "dob_ssn": rng.choice(people, n),
        "person_age": rng.integers(21, 70, n),
        "person_income": rng.integers(20_000, 200_000, n),
        "loan_amnt": rng.integers(1_000, 35_000, n),
        "loan_int_rate": rng.uniform(5, 20, n).round(2),
        "event_timestamp": [START + timedelta(days=int(d), hours=int(h))
                            for d, h in zip(rng.integers(20, 170, n), rng.integers(0, 24, n), strict=True)],
    })
    # The outcome depends on the person's credit history as it was when the loan was made.
    # merge_asof needs one datetime resolution on both sides (pandas < 2.2 does not convert them)
    known = credit.sort_values("event_timestamp").astype({"event_timestamp": frame["event_timestamp"].dtype})
    asof = pd.merge_asof(frame.sort_values("event_timestamp"), known, on="event_timestamp", by="dob_ssn")
    score = (asof["missed_payments_1y"] * 0.8 + asof["bankruptcies"] * 2.5 + asof["hard_pulls"] * 0.3
             + asof["credit_card_due"] / 4_000 + asof["loan_amnt"] / asof["person_income"] * 3 - 2.2)
    default = rng.uniform(0, 1, n) < 1 / (1 + np.exp(-score.to_numpy()))
    asof["loan_status"] = default.astype("int64")
    return asof[[*frame.columns, "loan_status"]].sort_values("loan_id").reset_index(drop=True)


def write_table(conn: psycopg.Connection, name: str, frame: pd.DataFrame, types: dict[str, str]) -> None:
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))
    conn.execute(sql.SQL("CREATE TABLE {} ({})").format(
        sql.Identifier(name),
        sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(types[c])) for c in frame.columns),
    ))
    with conn.cursor() as cur, cur.copy(sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(name))) as copy:
        for row in frame.itertuples(index=False):
            copy.write_row([v.item() if hasattr(v, "item") else v for v in row])


def main() -> None:
    rng = np.random.default_rng(2025)
    zips, credit = zipcodes(rng), credit_history(rng)
    settings = FeatureStore(repo_path=REPO).config.offline_store
    with psycopg.connect(conninfo(settings), autocommit=True) as conn:  # type: ignore[arg-type]
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(settings.db_schema)))
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(settings.db_schema)))
        big, text, ts = "BIGINT", "VARCHAR(255)", "TIMESTAMP"  # the seed's column types (naive UTC timestamps)
        write_table(conn, "zipcode_features", zips, {
            "zipcode": big, "city": text, "state": text, "location_type": text, "tax_returns_filed": big,
            "population": big, "total_wages": big, "event_timestamp": ts, "created_timestamp": ts,
        })
        write_table(conn, "credit_history", credit, {c: big for c in credit.columns} | {
            "dob_ssn": text, "event_timestamp": ts, "created_timestamp": ts,
        })
    (REPO / "data").mkdir(exist_ok=True)
    frame = loans(rng, zips, credit)
    frame.to_parquet(REPO / "data" / "loans.parquet", index=False)
    print(f"loaded {len(zips)} zipcode rows and {len(credit)} credit-history rows into schema "
          f"'{settings.db_schema}'; wrote {len(frame)} loans ({frame['loan_status'].mean():.0%} defaulted)")


if __name__ == "__main__":
    main()
