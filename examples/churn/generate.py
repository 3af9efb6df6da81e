"""Generates examples/churn/customers.csv: a seeded, synthetic customer-churn table.

Run `python3 examples/churn/generate.py` to remake it; the same seed gives the same file.
Churn is more likely for month-to-month contracts, short tenure, high charges and many
support calls, so a linear model can learn it. About 3% of total_charges are missing.
"""

import csv
import math
import random
from pathlib import Path

SEED = 42
ROWS = 2000


def main() -> None:
    rng = random.Random(SEED)
    out = Path(__file__).with_name("customers.csv")
    with out.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["customer_id", "tenure_months", "monthly_charges", "total_charges",
                    "contract", "support_calls", "paperless_billing", "churned"])
        for i in range(ROWS):
            contract = rng.choices(["month-to-month", "one-year", "two-year"], [0.55, 0.25, 0.2])[0]
            tenure = max(1, int(rng.expovariate(1 / (12 if contract == "month-to-month" else 36))))
            tenure = min(tenure, 72)
            monthly = round(rng.uniform(18, 120), 2)
            total = "" if rng.random() < 0.03 else round(monthly * tenure * rng.uniform(0.95, 1.05), 2)
            calls = min(10, int(rng.expovariate(1 / 1.5)))
            paperless = rng.random() < 0.6
            z = (-1.2 + (1.4 if contract == "month-to-month" else -0.6 if contract == "one-year" else -1.4)
                 - 0.04 * tenure + 0.012 * (monthly - 60) + 0.35 * calls + (0.3 if paperless else 0.0))
            churned = "yes" if rng.random() < 1 / (1 + math.exp(-z)) else "no"
            w.writerow([f"C{i:05d}", tenure, monthly, total, contract, calls,
                        "true" if paperless else "false", churned])


if __name__ == "__main__":
    main()
