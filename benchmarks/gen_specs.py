"""Generate a synthetic Charter repository of N valid, cross-referenced specs.

    python benchmarks/gen_specs.py OUT_DIR --count 1000 [--seed 0]

OUT_DIR gets `charter.yaml` (kind Project), `schemas/` (copied from this checkout when present,
for the `# yaml-language-server` first line of every spec) and `specs/<product>/<kind>.yaml`,
one document per file so that tools which validate one document per file (check-jsonschema)
get the same input as `charter validate`.

Specs come in products of six that reference each other by name: a DataSource, the
ValidationSuite that cleans and checks it, the Model trained on it, the MetricSet that gates
the model, its RolloutPolicy and the Ownership covering all five. Products are drawn from nine
domains (churn, fraud, credit risk, lead scoring, delivery time, demand, house prices, ticket
priority, machine failure: binary, multiclass and regression tasks) and vary in columns, cleaning
steps, rule types, estimator and parameters, slices, gates, rollout strategy and owners; a
spec is about 60 lines. When N is not a multiple of six, the last product is partial and its
Ownership covers only the specs that exist. Every spec is valid: `charter validate` reports
no problem. Output is a pure function of (N, seed). Standard library only.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCHEMAS = HERE.parent / "schemas"
KINDS = ("datasource", "suite", "model", "metricset", "rollout", "ownership")
HEADER = "# yaml-language-server: $schema=../../schemas/charter.schema.json\n"


# --------------------------------------------------------------------------------------------
# Domains


@dataclass(frozen=True)
class Col:
    """A column as the model sees it, after cleaning.

    `legacy` is its raw name in the source, `raw` the (true, false) spellings of a boolean
    that arrives as text.
    """

    name: str
    type: str
    lo: float | None = None
    hi: float | None = None
    values: tuple = ()
    nullable: bool = True
    desc: str | None = None
    legacy: str | None = None
    raw: tuple | None = None


@dataclass(frozen=True)
class Domain:
    slug: str
    entity: str
    title: str
    task: str
    id: Col
    id_pattern: str
    time: Col
    target: Col
    columns: tuple[Col, ...]
    windows: tuple[tuple[str, str, float, float, tuple[str, ...]], ...] = ()
    dropped: tuple[Col, ...] = ()
    keys: tuple[str, ...] = ()  # compound primary key (default: the id)
    compares: tuple[tuple[str, str, str], ...] = ()
    checks: tuple[str, ...] = ()
    slices: tuple[tuple[str, str], ...] = ()
    guardrails: tuple[tuple[str, str, object], ...] = ()
    mapping: tuple[str, dict] | None = None  # (category column, {raw spelling: value})
    scale: float = 1.0  # typical absolute error of a regression target
    formats: tuple[str, ...] = ("csv", "parquet")


def C(name, type_, lo=None, hi=None, values=(), **kw) -> Col:  # noqa: N802 - reads like a table row
    return Col(name, type_, lo, hi, tuple(values), **kw)


YES_NO = (("yes", "Y", "true", "1"), ("no", "N", "false", "0"))

DOMAINS: tuple[Domain, ...] = (
    Domain(
        "churn", "accounts", "customer accounts", "binary_classification",
        id=C("account_id", "string", nullable=False, desc="Stable id of the customer account."),
        id_pattern="AC[0-9]{8}",
        time=C("snapshot_date", "date", nullable=False, desc="Day the snapshot was taken."),
        target=C("churned", "boolean", desc="Cancelled within 30 days of the snapshot.", raw=YES_NO),
        columns=(
            C("signup_date", "date"), C("tenure_months", "integer", 0, 600, nullable=False, legacy="TenureMonths"),
            C("contract", "category", values=("monthly", "yearly", "two-year")),
            C("plan", "category", values=("free", "starter", "pro", "enterprise")),
            C("monthly_charges", "float", 0, 1000, legacy="MonthlyCharges", desc="Billed per month, in EUR."),
            C("total_charges", "float", 0, 100000, legacy="TotalCharges"), C("seats", "integer", 1, 5000),
            C("region", "category", values=("north", "south", "east", "west", "central")),
            C("payment_method", "category", values=("card", "invoice", "direct-debit", "paypal")),
            C("email", "string", desc="Billing contact."), C("is_auto_renew", "boolean"),
            C("discount_pct", "float", 0, 1), C("nps_score", "integer", 0, 10, desc="Last survey answer."),
        ),
        windows=(("logins", "integer", 0, 10000, ("7d", "30d", "90d")),
                 ("support_calls", "integer", 0, 500, ("30d", "90d")),
                 ("feature_uses", "integer", 0, 100000, ("7d", "30d"))),
        dropped=(C("notes", "string"), C("crm_export_id", "string")),
        compares=(("total_charges", ">=", "monthly_charges"), ("logins_90d", ">=", "logins_30d"),
                  ("logins_30d", ">=", "logins_7d"), ("support_calls_90d", ">=", "support_calls_30d")),
        checks=("total_charges >= 0 and monthly_charges < 1000", "discount_pct <= 1 or is_null(discount_pct)",
                "not is_null(email) and length(email) > 3", "seats >= 1"),
        slices=(("new-customers", "tenure_months < 6"), ("monthly-contracts", "contract == 'monthly'"),
                ("enterprise", "plan == 'enterprise'"), ("big-accounts", "seats >= 100"),
                ("inactive", "logins_30d == 0"), ("support-heavy", "support_calls_30d > 5"),
                ("north-and-central", "region in ['north', 'central']"), ("discounted", "discount_pct > 0.2"),
                ("detractors", "nps_score <= 6")),
        guardrails=(("no-churn-for-fresh-signups", "tenure_months < 1", False),
                    ("enterprise-reviewed-by-hand", "plan == 'enterprise' and seats > 1000", False),
                    ("dormant-without-renewal", "logins_90d == 0 and is_auto_renew == false", True)),
    ),
    Domain(
        "fraud", "transactions", "card transactions", "binary_classification",
        id=C("transaction_id", "string", nullable=False), id_pattern="TX[0-9]{12}",
        time=C("created_at", "datetime", nullable=False, desc="Authorisation time, UTC."),
        target=C("is_fraud", "boolean", desc="Confirmed chargeback or fraud report."),
        columns=(
            C("customer_id", "string", nullable=False), C("amount", "float", 0, 50000, nullable=False),
            C("currency", "category", values=("eur", "usd", "gbp", "sek", "nok")),
            C("merchant_category", "category", values=("grocery", "travel", "electronics", "gaming", "fuel")),
            C("card_present", "boolean"), C("country", "category", values=("se", "no", "dk", "fi", "de", "gb")),
            C("device_type", "category", values=("ios", "android", "web", "pos")),
            C("customer_age_days", "integer", 0, 20000, legacy="CustAgeDays"),
            C("distance_from_home_km", "float", 0, 20000, legacy="DistFromHome"),
            C("is_international", "boolean"), C("hour_of_day", "integer", 0, 23),
        ),
        windows=(("txn_count", "integer", 0, 10000, ("1h", "24h", "7d")),
                 ("txn_amount", "float", 0, 1000000, ("1h", "24h", "7d"))),
        dropped=(C("raw_payload", "string"), C("ingest_batch", "string")),
        compares=(("txn_count_24h", ">=", "txn_count_1h"), ("txn_count_7d", ">=", "txn_count_24h"),
                  ("txn_amount_7d", ">=", "txn_amount_24h")),
        checks=("amount > 0", "hour_of_day >= 0 and hour_of_day <= 23",
                "card_present == false or device_type == 'pos'"),
        slices=(("high-value", "amount > 1000"), ("cross-border", "is_international == true"),
                ("card-not-present", "card_present == false"), ("new-customers", "customer_age_days < 30"),
                ("night", "hour_of_day < 6"), ("travel", "merchant_category == 'travel'"),
                ("mobile", "device_type in ['ios', 'android']"), ("bursts", "txn_count_1h > 10")),
        guardrails=(("large-card-not-present", "amount > 20000 and card_present == false", True),
                    ("micro-payments", "amount < 1", False)),
        formats=("parquet", "sql"),
    ),
    Domain(
        "credit-risk", "loan-applications", "loan applications", "binary_classification",
        id=C("application_id", "string", nullable=False), id_pattern="LA[0-9]{10}",
        time=C("applied_at", "datetime", nullable=False),
        target=C("defaulted", "boolean", desc="90 days past due within the first year.", raw=YES_NO),
        columns=(
            C("income", "float", 0, 10000000, desc="Yearly gross income, EUR."), C("loan_amount", "float", 0, 5000000),
            C("term_months", "integer", 6, 480), C("employment_years", "integer", 0, 60),
            C("purpose", "category", values=("car", "home", "education", "business", "debt-consolidation")),
            C("home_ownership", "category", values=("rent", "own", "mortgage", "other")),
            C("credit_score", "integer", 300, 850, legacy="FICO"),
            C("debt_to_income", "float", 0, 10, legacy="DTI"), C("open_credit_lines", "integer", 0, 100),
            C("age", "integer", 18, 120, nullable=False), C("has_cosigner", "boolean"),
            C("previous_defaults", "integer", 0, 50),
        ),
        windows=(("credit_inquiries", "integer", 0, 100, ("90d", "365d")),
                 ("late_payments", "integer", 0, 100, ("90d", "365d"))),
        dropped=(C("applicant_name", "string", desc="PII; never used."), C("national_id", "string")),
        compares=(("credit_inquiries_365d", ">=", "credit_inquiries_90d"),),
        checks=("loan_amount > 0 and income >= 0", "age >= 18", "credit_score >= 300 and credit_score <= 850"),
        slices=(("thin-file", "open_credit_lines < 3"), ("young-applicants", "age < 25"),
                ("large-loans", "loan_amount > 100000"), ("renters", "home_ownership == 'rent'"),
                ("subprime", "credit_score < 600"), ("high-dti", "debt_to_income > 0.45")),
        guardrails=(("repeat-defaulters", "previous_defaults > 5", True),
                    ("strong-cosigned", "has_cosigner == true and credit_score > 800", False)),
        formats=("sql", "parquet"),
    ),
    Domain(
        "lead-scoring", "leads", "marketing leads", "binary_classification",
        id=C("lead_id", "string", nullable=False), id_pattern="L[0-9]{9}",
        time=C("created_at", "datetime", nullable=False),
        target=C("converted", "boolean", raw=(("won", "W", "1"), ("lost", "L", "0"))),
        columns=(
            C("source_channel", "category", values=("organic", "paid-search", "social", "referral", "event")),
            C("company_size", "integer", 1, 1000000, legacy="CompanySize"),
            C("industry", "category", values=("retail", "finance", "health", "software", "manufacturing")),
            C("country", "category", values=("se", "no", "dk", "fi", "de", "gb", "us", "fr")),
            C("job_level", "category", values=("ic", "manager", "director", "vp", "c-level")),
            C("email", "string"), C("email_opens", "integer", 0, 1000), C("web_visits", "integer", 0, 10000),
            C("demo_requested", "boolean"), C("trial_started", "boolean"),
            C("days_since_first_touch", "integer", 0, 3650),
            C("annual_revenue_musd", "float", 0, 1000000, legacy="AnnualRevenue"),
        ),
        windows=(("page_views", "integer", 0, 100000, ("7d", "30d")),
                 ("email_clicks", "integer", 0, 1000, ("7d", "30d"))),
        dropped=(C("utm_raw", "string"),),
        compares=(("page_views_30d", ">=", "page_views_7d"),),
        checks=("company_size >= 1", "email_opens >= 0 and web_visits >= 0", "length(lower(email)) >= 5"),
        slices=(("enterprise", "company_size >= 1000"), ("paid", "source_channel == 'paid-search'"),
                ("demo", "demo_requested == true"), ("executives", "job_level in ['vp', 'c-level']"),
                ("cold", "days_since_first_touch > 180"), ("nordics", "country in ['se', 'no', 'dk', 'fi']")),
        guardrails=(("hot-trial", "trial_started == true and demo_requested == true", True),
                    ("never-engaged", "email_opens == 0 and web_visits == 0", False)),
        formats=("csv", "jsonl"),
    ),
    Domain(
        "delivery-time", "deliveries", "food deliveries", "regression",
        id=C("order_id", "string", nullable=False), id_pattern="O[0-9]{9}",
        time=C("created_at", "datetime", nullable=False),
        target=C("delivery_minutes", "float", 1, 300, nullable=False),
        columns=(
            C("distance_km", "float", 0, 100), C("items", "integer", 1, 50),
            C("courier_experience_months", "integer", 0, 240, legacy="CourierExpMonths"),
            C("weather", "category", values=("clear", "rain", "snow", "fog")),
            C("traffic", "category", values=("low", "medium", "high")),
            C("is_express", "boolean", raw=(("Y", "yes", "true"), ("N", "no", "false"))),
            C("restaurant_prep_minutes", "float", 0, 120),
            C("city", "category", values=("stockholm", "oslo", "copenhagen", "helsinki")),
            C("basket_value", "float", 0, 2000), C("courier_vehicle", "category", values=("bike", "scooter", "car")),
        ),
        windows=(("orders_restaurant", "integer", 0, 5000, ("1h", "24h")),
                 ("courier_deliveries", "integer", 0, 500, ("7d", "30d"))),
        dropped=(C("customer_note", "string"),),
        compares=(("orders_restaurant_24h", ">=", "orders_restaurant_1h"),
                  ("delivery_minutes", ">=", "restaurant_prep_minutes")),
        checks=("distance_km >= 0 and items >= 1", "delivery_minutes > 0", "basket_value >= 0"),
        slices=(("long-distance", "distance_km > 15"), ("bad-weather", "weather in ['rain', 'snow']"),
                ("rush-hour", "orders_restaurant_1h > 50"), ("express", "is_express == true"),
                ("big-baskets", "items >= 10"), ("by-car", "courier_vehicle == 'car'"),
                ("rookies", "courier_experience_months < 3")),
        guardrails=(("very-far", "distance_km > 80", 120), ("huge-orders", "items > 40", 90)),
        scale=8,
    ),
    Domain(
        "demand", "store-sales", "daily store sales", "regression",
        id=C("sku", "string", nullable=False), id_pattern="SKU-[0-9]{6}",
        time=C("sale_date", "date", nullable=False),
        target=C("units_sold", "integer", 0, 100000, nullable=False),
        keys=("store_id", "sku", "sale_date"),
        columns=(
            C("store_id", "string", nullable=False), C("price", "float", 0, 10000),
            C("promo", "boolean"), C("holiday", "boolean"),
            C("weather", "category", values=("sunny", "cloudy", "rain", "snow")),
            C("stock_level", "integer", 0, 100000),
            C("day_of_week", "category", values=("mon", "tue", "wed", "thu", "fri", "sat", "sun")),
            C("category", "category", values=("dairy", "produce", "bakery", "frozen", "beverages")),
            C("shelf_space_m", "float", 0, 50, legacy="ShelfSpace"),
            C("competitor_price", "float", 0, 10000, legacy="CompPrice"),
        ),
        windows=(("units_sold_prev", "integer", 0, 100000, ("7d", "14d", "28d")),
                 ("price_avg", "float", 0, 10000, ("7d", "28d"))),
        dropped=(C("load_batch_id", "string"),),
        compares=(("units_sold_prev_28d", ">=", "units_sold_prev_7d"),),
        checks=("price > 0", "stock_level >= 0", "units_sold >= 0 and units_sold <= 100000"),
        slices=(("promo-weeks", "promo == true"), ("holidays", "holiday == true"),
                ("weekend", "day_of_week in ['sat', 'sun']"), ("fresh-food", "category in ['dairy', 'produce']"),
                ("low-stock", "stock_level < 10"), ("premium", "price > 50")),
        guardrails=(("out-of-stock", "stock_level == 0", 0),),
        scale=25,
    ),
    Domain(
        "house-price", "listings", "housing listings", "regression",
        id=C("listing_id", "string", nullable=False), id_pattern="H[0-9]{8}",
        time=C("listed_at", "date", nullable=False),
        target=C("sale_price", "float", 0, 100000000, desc="Final price, SEK."),
        columns=(
            C("living_area_m2", "float", 5, 2000, legacy="LivingArea"), C("rooms", "integer", 1, 50),
            C("year_built", "integer", 1600, 2030),
            C("city", "category", values=("stockholm", "gothenburg", "malmo", "uppsala", "vasteras")),
            C("has_garden", "boolean"), C("has_balcony", "boolean"),
            C("energy_label", "category", values=("A", "B", "C", "D", "E", "F", "G")),
            C("distance_to_center_km", "float", 0, 200), C("monthly_fee", "float", 0, 50000, legacy="MonthlyFee"),
            C("floor", "integer", -2, 100),
            C("property_type", "category", values=("apartment", "house", "townhouse", "cottage")),
            C("asking_price", "float", 0, 100000000),
        ),
        windows=(("views", "integer", 0, 1000000, ("1d", "7d")), ("saves", "integer", 0, 100000, ("1d", "7d"))),
        dropped=(C("agent_notes", "string"),),
        compares=(("views_7d", ">=", "views_1d"),),
        checks=("living_area_m2 > 0 and rooms >= 1", "year_built <= 2030", "asking_price > 0"),
        slices=(("central", "distance_to_center_km < 5"), ("large", "living_area_m2 > 150"),
                ("new-builds", "year_built >= 2015"), ("houses", "property_type == 'house'"),
                ("stockholm", "city == 'stockholm'"), ("poor-energy", "energy_label in ['F', 'G']")),
        guardrails=(("tiny-units", "living_area_m2 < 10", 0),),
        scale=250000, formats=("parquet", "csv"),
    ),
    Domain(
        "ticket-priority", "support-tickets", "support tickets", "multiclass_classification",
        id=C("ticket_id", "string", nullable=False), id_pattern="T-[0-9]{8}",
        time=C("opened_at", "datetime", nullable=False),
        target=C("priority", "category", values=("low", "medium", "high", "urgent"), desc="Set by the triage team."),
        columns=(
            C("channel", "category", values=("email", "chat", "phone", "web")),
            C("product_area", "category", values=("billing", "login", "api", "mobile", "reports")),
            C("customer_tier", "category", values=("free", "standard", "premium", "enterprise")),
            C("message_length", "integer", 0, 100000), C("attachments", "integer", 0, 50),
            C("prior_tickets", "integer", 0, 10000), C("sentiment_score", "float", -1, 1, legacy="Sentiment"),
            C("language", "category", values=("en", "sv", "de", "fr", "es")), C("is_outage_reported", "boolean"),
            C("account_age_days", "integer", 0, 10000), C("subject", "string"),
        ),
        windows=(("tickets_account", "integer", 0, 1000, ("7d", "30d")),
                 ("replies_account", "integer", 0, 10000, ("7d", "30d"))),
        dropped=(C("body_html", "string"),),
        compares=(("tickets_account_30d", ">=", "tickets_account_7d"),),
        checks=("sentiment_score >= -1 and sentiment_score <= 1", "message_length >= 0",
                "is_null(subject) or length(subject) <= 500"),
        slices=(("enterprise", "customer_tier == 'enterprise'"), ("outages", "is_outage_reported == true"),
                ("negative", "sentiment_score < -0.5"), ("phone", "channel == 'phone'"),
                ("api", "product_area == 'api'"), ("non-english", "language != 'en'")),
        guardrails=(("enterprise-outage", "is_outage_reported == true and customer_tier == 'enterprise'", "urgent"),
                    ("happy-free-users", "customer_tier == 'free' and sentiment_score > 0.5", "low")),
        mapping=("channel", {"E-mail": "email", "Mail": "email", "Telephone": "phone", "Webform": "web"}),
        formats=("jsonl", "parquet"),
    ),
    Domain(
        "machine-failure", "sensor-readings", "machine sensor readings", "multiclass_classification",
        id=C("reading_id", "string", nullable=False), id_pattern="R[0-9]{12}",
        time=C("reading_at", "datetime", nullable=False),
        target=C("failure_mode", "category", values=("none", "bearing", "overheat", "electrical", "hydraulic")),
        columns=(
            C("machine_id", "string", nullable=False),
            C("machine_type", "category", values=("press", "lathe", "mill", "pump", "compressor")),
            C("temperature_c", "float", -40, 200, legacy="TempC"), C("vibration_mm_s", "float", 0, 100, legacy="Vib"),
            C("pressure_bar", "float", 0, 400), C("rpm", "integer", 0, 20000),
            C("hours_since_service", "integer", 0, 100000), C("load_pct", "float", 0, 1),
            C("site", "category", values=("lulea", "gdansk", "tampere", "aarhus")), C("firmware", "string"),
            C("operator_shift", "category", values=("day", "evening", "night")),
        ),
        windows=(("temperature_mean", "float", -40, 200, ("1h", "24h")),
                 ("vibration_max", "float", 0, 100, ("1h", "24h"))),
        dropped=(C("raw_signal", "string"),),
        compares=(("vibration_max_24h", ">=", "vibration_max_1h"),),
        checks=("rpm >= 0 and load_pct <= 1", "temperature_c > -40", "pressure_bar >= 0"),
        slices=(("overdue-service", "hours_since_service > 2000"), ("hot", "temperature_c > 90"),
                ("pumps", "machine_type == 'pump'"), ("night-shift", "operator_shift == 'night'"),
                ("high-load", "load_pct > 0.9")),
        guardrails=(("stopped-machines", "rpm == 0 and load_pct == 0", "none"),),
        formats=("parquet", "csv"),
    ),
)

# Load-audit columns many warehouse exports carry; suites drop them before checks and training.
AUDIT = (C("_ingested_at", "datetime", desc="Load time, set by the ingest job."), C("_source_file", "string"))
MARKETS = ("emea", "nordics", "dach", "uk", "iberia", "benelux", "us-east", "us-west", "canada", "latam", "apac",
           "anz", "japan", "india")
PEOPLE = ("alice", "bob", "carol", "dana", "erin", "farid", "greta", "hiro", "ines", "jonas", "kemal", "lena",
          "mateo", "nora", "oskar", "priya", "quinn", "rosa", "sven", "tove")
TEAMS = {
    "data": ("data-eng", "data-platform", "analytics-eng", "ingest"),
    "ds": ("ds", "ds-growth", "ds-risk", "ds-ops", "ml-research"),
    "ops": ("mlops", "ml-platform", "sre"),
    "other": ("risk", "legal", "support", "finance", "product", "security"),
}
METRICS = {  # task -> [(metric, higher is better, (low, high) of a sensible threshold)]
    "binary_classification": [("roc_auc", True, (0.65, 0.9)), ("average_precision", True, (0.3, 0.7)),
                              ("f1", True, (0.4, 0.8)), ("recall", True, (0.5, 0.85)),
                              ("precision", True, (0.4, 0.8)), ("log_loss", False, (0.3, 0.6)),
                              ("brier_score", False, (0.08, 0.2)), ("balanced_accuracy", True, (0.6, 0.85))],
    "multiclass_classification": [("accuracy", True, (0.6, 0.9)), ("balanced_accuracy", True, (0.5, 0.8)),
                                  ("f1_macro", True, (0.5, 0.8)), ("f1_weighted", True, (0.55, 0.85)),
                                  ("roc_auc_ovr", True, (0.7, 0.92)), ("log_loss", False, (0.6, 1.2))],
    "regression": [("mae", False, (0.8, 1.5)), ("rmse", False, (1.1, 2.0)), ("r2", True, (0.5, 0.8)),
                   ("mape", False, (0.15, 0.35)), ("median_absolute_error", False, (0.6, 1.2)),
                   ("explained_variance", True, (0.5, 0.8))],
}
BUSINESS = {
    "binary_classification": [("missed-cost", "5 * fn + 1 * fp", "max", (200, 5000)),
                              ("review-load", "predicted_positives / n", "max", (0.05, 0.3)),
                              ("false-alarm-rate", "fp / max(negatives, 1)", "max", (0.02, 0.2)),
                              ("capture-rate", "tp / max(positives, 1)", "min", (0.4, 0.8))],
    "multiclass_classification": [("error-rate", "errors / n", "max", (0.1, 0.4)),
                                  ("correct-share", "correct / n", "min", (0.6, 0.9))],
    "regression": [("mean-abs-error", "sum_abs_error / n", "max", None),
                   ("bias", "abs(sum_error) / n", "max", None),
                   ("rmse-from-sums", "sqrt(sum_squared_error / n)", "max", None),
                   ("overall-bias-pct", "abs(mean_prediction - mean_target) / max(abs(mean_target), 1)", "max",
                    (0.02, 0.1))],
}
_KEYWORDS = {"and", "or", "not", "in", "true", "false", "null", "True", "False", "None",
             "abs", "log", "exp", "sqrt", "round", "min", "max", "lower", "upper", "length", "is_null",
             "not_null", "coalesce"}


# --------------------------------------------------------------------------------------------
# YAML text


_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_ ./()-]*\Z")
_RESERVED = {"yes", "no", "y", "n", "on", "off", "true", "false", "null", "~"}
_UNITS = re.compile(r"(?:[0-9]+(?:[smhdwkMG]|Ki|Mi|Gi))+\Z")  # durations and quantities: 24h, 1d12h, 500m, 2Gi


def s(value: object) -> str:
    """A YAML scalar that YAML 1.1 and 1.2 readers type the same way (quoted when it could differ)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(round(value, 6))
    text = str(value)
    if (_PLAIN.match(text) and text.lower() not in _RESERVED and not text.endswith(" ")) or _UNITS.match(text):
        return text
    return json.dumps(text)


def flow(value: object) -> str:
    """Flow style: `{a: 1, b: [x, y]}`."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{s(k)}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return s(value)


def emit(mapping: dict, indent: int, width: int, first: str = "") -> list[str]:
    """A block mapping, one key a line.

    Nested mappings and lists are written in flow style when they fit in `width` columns, else
    in block style; `first` puts a `- ` list marker on the first key.
    """
    pad = " " * indent
    out = []
    for n, (key, value) in enumerate(mapping.items()):
        head = f"{pad[:-2] + first if n == 0 and first else pad}{s(key)}:"
        if not isinstance(value, (dict, list, tuple)):
            out.append(f"{head} {s(value)}")
        elif not value or len(head) + 1 + len(flow(value)) <= width:
            out.append(f"{head} {flow(value)}")
        elif isinstance(value, dict):
            out += [head, *emit(value, indent + 2, width)]
        else:
            out.append(head)
            lead = " " * (indent + 2) + "- "
            for item in value:
                # A one-key mapping of a mapping (`- rename: {mapping: ...}`) keeps its key in block style.
                nested = isinstance(item, dict) and len(item) == 1 and isinstance(next(iter(item.values())), dict)
                if isinstance(item, dict) and (nested or len(lead) + len(flow(item)) > width):
                    out += emit(item, indent + 4, width, first="- ")
                else:
                    out.append(lead + flow(item))
    return out


def doc(kind: str, metadata: dict, spec: dict, width: int) -> str:
    body = {"apiVersion": "charter/v1", "kind": kind, "metadata": metadata, "spec": spec}
    return "\n".join([HEADER.rstrip("\n"), *emit(body, 0, width)]) + "\n"


def handle(rnd: random.Random, group: str | None = None) -> str:
    if group is None:
        return "@" + rnd.choice(PEOPLE)
    return f"@acme/{rnd.choice(TEAMS[group])}"


def names_in(expression: str) -> set[str]:
    """Column names an expression uses (string literals and keywords removed)."""
    bare = re.sub(r"'[^']*'", "", expression)
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", bare)) - _KEYWORDS


# --------------------------------------------------------------------------------------------
# One product

# Line widths up to which nested values stay in flow style, one per document: teams write
# YAML differently, from everything in block style to compact flow mappings.
WIDTHS = (0, 40, 40, 60, 80, 100)


class Product:
    """The six specs of one ML product, drawn from a domain with the product's own random stream."""

    def __init__(self, i: int, domain: Domain, rnd: random.Random) -> None:
        d = self.d = domain
        self.i, self.rnd = i, rnd
        self.market = rnd.choice(MARKETS)
        stem = f"{d.slug}-{self.market}-{i}"
        source = f"{d.entity}-{self.market}-{i}"
        self.names = {"datasource": source, "suite": f"{source}-quality", "model": stem,
                      "metricset": f"{stem}-quality", "rollout": f"{stem}-rollout", "ownership": f"{stem}-owners"}
        chosen = {c.name for c in d.columns if c.name in d.keys or rnd.random() < 0.8}
        cols = [d.id, d.time, *(c for c in d.columns if c.name in chosen)]
        for base, type_, lo, hi, windows in d.windows:
            if rnd.random() < 0.9:
                what = base.replace("_", " ").capitalize()
                cols += [C(f"{base}_{w}", type_, lo, hi, desc=f"{what} in the last {w}.") for w in windows]
        cols.insert(rnd.randint(2, len(cols)), d.target)
        self.cols = cols  # as the model sees them, after the suite's prepare steps
        self.by_name = {c.name: c for c in cols}
        self.renamed = [c for c in cols if c.legacy and rnd.random() < 0.6]
        self.dropped = [c for c in d.dropped if rnd.random() < 0.6] + (list(AUDIT) if rnd.random() < 0.5 else [])
        self.uses_mapping = d.mapping is not None and d.mapping[0] in self.by_name and rnd.random() < 0.7
        self.slices = self._pick([sl for sl in d.slices if names_in(sl[1]) <= self.by_name.keys()], 3, 7)

    def _pick(self, pool: list, lo: int, hi: int) -> list:
        """Between lo and hi items of pool (as many as there are, at most), in pool order."""
        k = min(len(pool), self.rnd.randint(max(0, min(lo, hi)), max(0, hi)))
        picked = set(self.rnd.sample(range(len(pool)), k))
        return [x for n, x in enumerate(pool) if n in picked]

    def _doc(self, kind: str, key: str, description: str, spec: dict, labels: dict | None = None) -> str:
        metadata = {"name": self.names[key], "description": description}
        if labels:
            metadata["labels"] = labels
        return doc(kind, metadata, spec, self.rnd.choice(WIDTHS))

    def features(self) -> list[str]:
        """Columns a model can use as features: no id, target, free text or timestamp."""
        d = self.d
        return [c.name for c in self.cols
                if c.name not in (d.target.name, d.id.name) and c.type not in ("string", "date", "datetime")]

    # -- DataSource ---------------------------------------------------------------------------

    def datasource(self) -> str:
        d, rnd = self.d, self.rnd
        fmt = rnd.choice(d.formats)
        table = d.entity.replace("-", "_")
        spec: dict = {"format": fmt}
        if fmt == "sql":
            spec["connection"] = {"url_env": f"{d.slug.upper().replace('-', '_')}_DB_URL"}
            if rnd.random() < 0.5:
                spec["table"] = f"{table}_{self.market.replace('-', '_')}"
            else:
                spec["query"] = f"SELECT * FROM {table} WHERE market = '{self.market}'"
        else:
            spec["path"] = f"data/{d.slug}/{self.market}/{table}_{self.i}.{fmt}"
            if fmt == "csv" and rnd.random() < 0.5:
                spec["csv"] = {"delimiter": rnd.choice([",", ";"]), "encoding": "utf-8"}
        spec["primary_key"] = list(d.keys) or [d.id.name]
        schema = []
        for c in [*self.cols, *self.dropped]:
            col: dict = {"name": c.legacy if c in self.renamed else c.name, "type": "string" if c.raw else c.type}
            if not c.nullable:
                col["nullable"] = False
            if c.values and rnd.random() < 0.9:
                col["values"] = list(c.values)
            if c.desc:
                col["description"] = c.desc
            schema.append(col)
        spec["schema"] = schema
        if rnd.random() < 0.7:
            spec["freshness"] = {"column": d.time.name, "max_age": rnd.choice(["36h", "2d", "7d", "1d12h"])}
        labels = {"team": rnd.choice(TEAMS["data"]), "market": self.market}
        if rnd.random() < 0.5:
            labels["pii"] = rnd.choice(["none", "low", "high"])
        unit = d.id.name.removesuffix("_id")
        return self._doc("DataSource", "datasource", f"{d.title.capitalize()} in {self.market}, one row per {unit}.",
                         spec, labels)

    # -- ValidationSuite ----------------------------------------------------------------------

    def suite(self) -> str:
        d, rnd = self.d, self.rnd
        prep: list[dict] = []
        if self.renamed:
            prep.append({"rename": {"mapping": {c.legacy: c.name for c in self.renamed}}})
        if self.dropped:
            prep.append({"drop_columns": {"columns": [c.name for c in self.dropped]}})
        for c in self.cols:
            if c.raw:  # `s()` quotes the keys: YAML 1.2 readers but Charter's read a bare `true:` as a boolean
                prep.append({"standardize": {"column": c.name, "true": list(c.raw[0]), "false": list(c.raw[1])}})
        if self.uses_mapping:
            prep.append({"standardize": {"column": d.mapping[0], "mapping": d.mapping[1]}})
        prep.append({"deduplicate": {"keys": list(d.keys) or [d.id.name], "keep": rnd.choice(["first", "last"])}})
        numeric = [c for c in self.cols if c.type in ("integer", "float") and c.name != d.target.name]
        if rnd.random() < 0.8:
            cols = [c.name for c in rnd.sample(numeric, min(len(numeric), rnd.randint(1, 3)))]
            how = {"strategy": rnd.choice(["median", "mean"])} if rnd.random() < 0.6 else {"value": 0}
            prep.append({"fill_null": {"columns": cols, **how}})
        if rnd.random() < 0.6:
            prep.append({"drop_null": {"columns": [d.target.name]}})
        if rnd.random() < 0.7:
            c = rnd.choice(numeric)
            bounds = ({"quantiles": [rnd.choice([0.0, 0.001, 0.01]), rnd.choice([0.99, 0.995, 0.999])]}
                      if rnd.random() < 0.5 else {"min": c.lo, "max": c.hi})
            prep.append({"clip": {"column": c.name, **bounds}})
        spec = {"source": self.names["datasource"], "prepare": prep, "rules": self._rules()}
        return self._doc("ValidationSuite", "suite", f"Cleaning and checks of {self.names['datasource']} before "
                         f"{self.names['model']} trains on it.", spec)

    def _rules(self) -> list[dict]:
        d, rnd = self.d, self.rnd
        out: list[dict] = [
            {"rule": "not_null", "columns": [c.name for c in self.cols if not c.nullable]},
            {"rule": "unique", "columns": list(d.keys) or [d.id.name]},
            {"rule": "regex", "column": d.id.name, "pattern": d.id_pattern},
        ]
        size = len(re.sub(r"\[[^]]*\]\{(\d+)\}", lambda m: "x" * int(m.group(1)), d.id_pattern))
        out.append({"rule": "length", "column": d.id.name, "min": size, "max": size})
        out.append({"rule": "row_count", "min": rnd.choice([100, 500, 1000, 5000, 20000])})
        out.append({"rule": "not_in_future", "column": d.time.name, "tolerance": rnd.choice(["0s", "5m", "1h"])})
        if rnd.random() < 0.6:
            out.append({"rule": "freshness", "column": d.time.name, "max_age": rnd.choice(["2d", "36h", "7d"]),
                        "severity": "warn"})
        for c in self.cols:
            if c.type in ("integer", "float") and c.lo is not None:
                r, span = rnd.random(), c.hi - c.lo
                if r < 0.55:
                    out.append({"rule": "between", "column": c.name, "min": c.lo, "max": c.hi})
                elif r < 0.65:
                    out.append({"rule": "mean_between", "column": c.name, "min": c.lo, "max": c.lo + span * 0.6})
                elif r < 0.72:
                    out.append({"rule": "stdev_between", "column": c.name, "min": 0, "max": span / 2})
                elif r < 0.8:
                    out.append({"rule": "quantile_between", "column": c.name,
                                "quantile": rnd.choice([0.5, 0.9, 0.99]), "min": c.lo, "max": c.hi})
                elif c.nullable:
                    out.append({"rule": "null_fraction", "column": c.name,
                                "max": rnd.choice([0.01, 0.02, 0.05, 0.1]), "severity": "warn"})
            elif c.type == "category" and c.values and c.name != d.target.name:
                r = rnd.random()
                if r < 0.5:
                    out.append({"rule": "in_set", "column": c.name, "values": list(c.values)})
                elif r < 0.75:
                    out.append({"rule": "distinct_count", "column": c.name, "min": 1, "max": len(c.values)})
            elif c.name == "email":
                out.append({"rule": "regex", "column": "email", "pattern": "[^@ ]+@[^@ ]+[.][a-z]{2,}",
                            "severity": "warn"})
        if d.target.type == "category":
            out.append({"rule": "in_set", "column": d.target.name, "values": list(d.target.values)})
        for left, op, right in d.compares:
            if left in self.by_name and right in self.by_name and rnd.random() < 0.7:
                out.append({"rule": "compare", "left": left, "op": op, "right": right,
                            "severity": rnd.choice(["error", "warn"])})
        for check in d.checks:
            if names_in(check) <= self.by_name.keys() and rnd.random() < 0.7:
                out.append({"rule": "expression", "check": check})
        documented = []
        for n, rule in enumerate(out):
            if rnd.random() < 0.3:  # a documented rule, with a stable id for waivers and reports
                subject = str(rule.get("column") or rule.get("left") or (rule.get("columns") or ["table"])[0])
                subject = subject.replace("_", "-")
                rule = {"rule": rule["rule"], "id": f"{rule['rule'].replace('_', '-')}-{subject}-{n}",
                        "description": f"{rule['rule'].replace('_', ' ').capitalize()} check owned by "
                                       f"{rnd.choice(TEAMS['data'])}.",
                        **{k: v for k, v in rule.items() if k != "rule"}}
            documented.append(rule)
        return documented

    # -- Model --------------------------------------------------------------------------------

    def model(self) -> str:
        d, rnd = self.d, self.rnd
        data: dict = {"source": self.names["datasource"], "validation": self.names["suite"], "target": d.target.name}
        candidates = self.features()
        if rnd.random() < 0.8:
            data["features"] = self._pick(candidates, max(4, len(candidates) - 6), len(candidates))
        else:
            data["exclude"] = [c.name for c in self.cols if c.type == "string"] + [d.time.name]
        num = {"impute": rnd.choice(["median", "mean", "most_frequent"]),
               "scale": rnd.choice(["standard", "robust", "none"])}
        cat = {"impute": rnd.choice(["most_frequent", "constant"]), "encode": rnd.choice(["onehot", "ordinal"])}
        if cat["encode"] == "onehot" and rnd.random() < 0.5:
            cat["max_categories"] = rnd.choice([10, 20, 50])
        cls, params = self._estimator()
        spec = {"task": d.task, "data": data, "split": self._split(),
                "preprocessing": {"numeric": num, "categorical": cat},
                "estimator": {"class": cls, "params": params},
                "slices": [{"name": n, "where": w} for n, w in self.slices]}
        guards = [g for g in d.guardrails if names_in(g[1]) <= self.by_name.keys() and rnd.random() < 0.7]
        if guards:
            spec["guardrails"] = [{"name": n, "when": w, "predict": p} for n, w, p in guards]
        return self._doc("Model", "model", f"Predicts {d.target.name.replace('_', ' ')} for {d.title} in "
                         f"{self.market}.", spec, {"domain": d.slug, "tier": rnd.choice(["critical", "standard"])})

    def _split(self) -> dict:
        rnd, task = self.rnd, self.d.task
        seed = rnd.randint(0, 9999)
        test = rnd.choice([0.1, 0.15, 0.2, 0.25, 0.3])
        r = rnd.random()
        if r < 0.35:
            return {"method": "time", "time_column": self.d.time.name, "test_size": test, "seed": seed}
        if task != "regression" and r < 0.7:
            return {"method": "stratified", "test_size": test, "seed": seed}
        if task != "regression" and r < 0.85:
            return {"method": "random", "stratify": True, "test_size": test, "seed": seed}
        return {"method": "random", "test_size": test, "seed": seed}

    def _estimator(self) -> tuple[str, dict]:
        rnd = self.rnd
        seed = rnd.choice([0, 7, 42, 1234])
        depth = rnd.choice([3, 4, 6, 8, 12, None])
        if self.d.task == "regression":
            options = [
                ("sklearn.ensemble.RandomForestRegressor",
                 {"n_estimators": rnd.choice([100, 200, 400]), "max_depth": depth,
                  "min_samples_leaf": rnd.choice([1, 2, 5]), "max_features": rnd.choice([1.0, "sqrt", 0.5]),
                  "n_jobs": rnd.choice([1, 2, 4]), "random_state": seed}),
                ("sklearn.ensemble.HistGradientBoostingRegressor",
                 {"max_iter": rnd.choice([100, 200, 500]), "learning_rate": rnd.choice([0.03, 0.05, 0.1]),
                  "max_leaf_nodes": rnd.choice([15, 31, 63]), "loss": rnd.choice(["squared_error", "absolute_error"]),
                  "l2_regularization": rnd.choice([0.0, 0.1, 1.0]), "random_state": seed}),
                ("sklearn.ensemble.GradientBoostingRegressor",
                 {"n_estimators": rnd.choice([100, 300]), "learning_rate": 0.05, "max_depth": rnd.choice([3, 4, 5]),
                  "subsample": rnd.choice([0.7, 0.8, 1.0]), "loss": rnd.choice(["huber", "squared_error"]),
                  "random_state": seed}),
                ("sklearn.linear_model.Ridge", {"alpha": rnd.choice([0.1, 1.0, 10.0]), "solver": "auto"}),
                ("sklearn.ensemble.ExtraTreesRegressor",
                 {"n_estimators": rnd.choice([200, 300]), "min_samples_split": rnd.choice([2, 4, 0.01]),
                  "bootstrap": rnd.choice([True, False]), "random_state": seed}),
            ]
        else:
            options = [
                ("sklearn.linear_model.LogisticRegression",
                 {"C": rnd.choice([0.1, 0.5, 1.0, 2.0]), "max_iter": rnd.choice([200, 500, 1000]),
                  "solver": rnd.choice(["lbfgs", "newton-cg", "saga"]), "class_weight": rnd.choice(["balanced", None]),
                  "random_state": seed}),
                ("sklearn.ensemble.RandomForestClassifier",
                 {"n_estimators": rnd.choice([100, 200, 500]), "max_depth": depth,
                  "min_samples_leaf": rnd.choice([1, 2, 5]), "criterion": rnd.choice(["gini", "entropy"]),
                  "class_weight": rnd.choice(["balanced", "balanced_subsample", None]), "n_jobs": rnd.choice([1, 2, 4]),
                  "random_state": seed}),
                ("sklearn.ensemble.HistGradientBoostingClassifier",
                 {"max_iter": rnd.choice([100, 200, 300]), "learning_rate": rnd.choice([0.05, 0.1, 0.2]),
                  "max_depth": depth, "l2_regularization": rnd.choice([0.0, 0.5]),
                  "early_stopping": rnd.choice(["auto", True]), "random_state": seed}),
                ("sklearn.ensemble.ExtraTreesClassifier",
                 {"n_estimators": rnd.choice([200, 400]), "max_features": rnd.choice(["sqrt", "log2", 0.3]),
                  "random_state": seed}),
                ("sklearn.ensemble.GradientBoostingClassifier",
                 {"n_estimators": rnd.choice([100, 200]), "learning_rate": rnd.choice([0.05, 0.1]),
                  "subsample": 0.8, "max_depth": rnd.choice([2, 3, 4]), "random_state": seed}),
            ]
        return rnd.choice(options)

    # -- MetricSet ----------------------------------------------------------------------------

    def metricset(self) -> str:
        d, rnd, task = self.d, self.rnd, self.d.task
        pool = METRICS[task]
        scale = d.scale if task == "regression" else 1.0

        def threshold(metric: tuple, slice_: str | None = None) -> dict:
            name, higher, (lo, hi) = metric
            value = rnd.uniform(lo, hi)
            if name in ("mae", "rmse", "median_absolute_error"):
                value *= scale
            gate = {"metric": name} | ({"slice": slice_} if slice_ else {})
            return gate | {"min" if higher else "max": round(value, 2) if value < 100 else round(value)}

        main = pool[0] if task != "regression" else rnd.choice(pool[:3])
        gates = [threshold(main)] + [threshold(m) for m in self._pick([m for m in pool if m != main], 1, 2)]
        gates += [threshold(main, name) for name, _ in self._pick(self.slices, 2, 4)]
        drop = round(0.05 * scale, 2) if main[0] in ("mae", "rmse") else rnd.choice([0.01, 0.02])
        gates.append({"metric": main[0], "max_drop": drop, "versus": "production"})
        if rnd.random() < 0.4:
            gates.append({"metric": main[0], "max_drop": drop * 2, "versus": "previous",
                          "id": f"no-regression-vs-previous-{main[0].replace('_', '-')}"})
        business = []
        for name, expression, side, bounds in self._pick(BUSINESS[task], 1, 3):
            if bounds is None:
                value = round(rnd.uniform(0.8, 1.5) * scale, 2)
            else:
                value = round(rnd.uniform(*bounds), 3) if bounds[1] < 10 else rnd.randint(*bounds)
            business.append({"name": name, "expression": expression, side: value})
        drift = {"method": rnd.choice(["psi", "ks"]), "alert_above": rnd.choice([0.1, 0.2, 0.25, 0.3]),
                 "features": self._pick(self.features(), 4, 10)}
        schedule = rnd.choice([f"{rnd.randint(0, 59)} {rnd.randint(0, 23)} * * *", f"{rnd.randint(0, 59)} */6 * * *",
                               f"{rnd.randint(0, 59)} {rnd.randint(0, 23)} * * 1-5", "@daily", "0 7 * * mon"])
        monitoring = {"drift": drift, "schedule": schedule} | ({"enabled": False} if rnd.random() < 0.2 else {})
        spec = {"model": self.names["model"], "metrics": [m for m, _, _ in self._pick(pool, 2, 4)], "gates": gates,
                "business": business, "monitoring": monitoring}
        return self._doc("MetricSet", "metricset", f"Promotion gates and monitoring of {self.names['model']}.", spec)

    # -- RolloutPolicy ------------------------------------------------------------------------

    def rollout(self) -> str:
        rnd = self.rnd
        lo = rnd.choice([1, 2, 3])
        serving: dict = {"runtime": "charter",  # the predictor with guardrails and the metrics analysis reads
                         "replicas": {"min": lo, "max": lo + rnd.choice([1, 3, 5, 9])}}
        if rnd.random() < 0.9:
            serving["resources"] = {
                "requests": {"cpu": rnd.choice(["250m", "500m", "1"]), "memory": rnd.choice(["256Mi", "512Mi", "1Gi"])},
                "limits": {"cpu": rnd.choice(["1", "2", "4"]), "memory": rnd.choice(["2Gi", "4Gi"])},
            }
        envs: list[dict] = []
        if rnd.random() < 0.6:
            envs.append({"name": "dev", "namespace": f"ml-dev-{self.market}", "strategy": {"type": "direct"}})
        if rnd.random() < 0.6:
            envs.append({"name": "staging", "approval": rnd.choice(["none", "responsible"]),
                         "strategy": {"type": "shadow", "duration": rnd.choice(["12h", "24h", "2d", "1h30m"])}})
        else:
            envs.append({"name": "staging", "strategy": {"type": "direct"}})
        for region in ["production"] if rnd.random() < 0.7 else ["production-eu", "production-us"]:
            env: dict = {"name": region}
            if rnd.random() < 0.5:
                env["namespace"] = f"ml-{region}"
            approval = rnd.choice(["accountable", "accountable", "responsible", "handles"])
            env["approval"] = [handle(rnd), handle(rnd, "ops")] if approval == "handles" else approval
            analysis = {"gates": self.names["metricset"], "on_failure": rnd.choice(["rollback", "rollback", "pause"])}
            if rnd.random() < 0.5:
                analysis["interval"] = rnd.choice(["5m", "10m", "1h"])
            if rnd.random() < 0.7:
                traffic = sorted(rnd.sample([1, 5, 10, 20, 25, 33, 50, 75, 90], rnd.randint(1, 4)))
                steps = [{"traffic": t, "pause": rnd.choice(["15m", "30m", "1h", "2h", "1d"])} for t in traffic]
                env["strategy"] = {"type": "canary", "steps": [*steps, {"traffic": 100}], "analysis": analysis}
            else:
                env["strategy"] = {"type": "blue-green", "auto_promote": rnd.random() < 0.3, "analysis": analysis}
            envs.append(env)
        spec = {"model": self.names["model"], "serving": serving, "environments": envs}
        return self._doc("RolloutPolicy", "rollout", f"How {self.names['model']} reaches production.", spec)

    # -- Ownership ----------------------------------------------------------------------------

    def ownership(self, covers: list[str]) -> str:
        rnd = self.rnd
        raci = {}
        groups = {"data": "data", "validation": "data", "model": "ds", "evaluation": "ds", "deployment": "ops",
                  "monitoring": "ops"}
        for stage, group in groups.items():
            if stage in ("validation", "evaluation", "monitoring") and rnd.random() < 0.15:
                continue
            entry = {"responsible": sorted({handle(rnd, group) for _ in range(rnd.randint(1, 2))}),
                     "accountable": handle(rnd)}
            if rnd.random() < 0.7:
                entry["consulted"] = [handle(rnd, rnd.choice(["ds", "other"]))]
            if rnd.random() < 0.7:
                entry["informed"] = sorted({handle(rnd, "other"), handle(rnd, "ops")})
            raci[stage] = entry
        return self._doc("Ownership", "ownership", f"Who owns {self.names['model']} and its data.",
                         {"covers": covers, "raci": raci})


# --------------------------------------------------------------------------------------------


def generate(out: Path, count: int, seed: int = 0) -> list[Path]:
    """Write the repository under `out`; returns the spec files written, in order."""
    rnd = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    (out / "charter.yaml").write_text(
        "# yaml-language-server: $schema=schemas/project.schema.json\n"
        "apiVersion: charter/v1\nkind: Project\nmetadata:\n  name: bench\n"
        "  description: Synthetic specs written by benchmarks/gen_specs.py.\n"
        "spec:\n  specs: [specs]\n  output: generated\n  image: ghcr.io/acme/charter-runner:0.1.0\n"
        "  artifact_store: .charter/artifacts\n  shared_store: s3://bench-artifacts/charter\n"
        "  prometheus: http://prometheus.monitoring.svc:9090\n  base_branch: main\n"
        # every pod that reads a database source gets its URL from a Secret (X323)
        "  compute:\n    secrets:\n"
        + "".join(f"      {d.slug.upper().replace('-', '_')}_DB_URL: {{name: {d.slug}-db, key: url}}\n"
                  for d in sorted(DOMAINS, key=lambda d: d.slug) if "sql" in d.formats),
        encoding="utf-8",
    )
    if SCHEMAS.is_dir():
        shutil.copytree(SCHEMAS, out / "schemas", dirs_exist_ok=True)
    files: list[Path] = []
    for i, size in enumerate(group_sizes(count)):
        product = Product(i, DOMAINS[rnd.randrange(len(DOMAINS))], random.Random(rnd.getrandbits(64)))
        kinds = KINDS[: size - 1]  # a partial product: its first specs and an Ownership of them
        texts = {k: getattr(product, k)() for k in kinds}
        texts["ownership"] = product.ownership([product.names[k] for k in kinds])
        folder = out / "specs" / product.names["model"]
        folder.mkdir(parents=True, exist_ok=True)
        for kind in KINDS:
            if kind in texts:
                path = folder / f"{kind}.yaml"
                path.write_text(texts[kind], encoding="utf-8")
                files.append(path)
    return files


def group_sizes(count: int) -> list[int]:
    """Specs per product: sixes, then a partial product of at least two.

    An Ownership needs something to cover, so a remainder of one splits the last full product
    into 4 + 3.
    """
    if count < 2:
        raise ValueError("a repository needs at least 2 specs (a spec and the Ownership covering it)")
    full, rest = divmod(count, len(KINDS))
    if rest == 1:
        return [len(KINDS)] * (full - 1) + [4, 3]
    return [len(KINDS)] * full + ([rest] if rest else [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write the repository into")
    parser.add_argument("--count", type=int, default=1000, help="number of spec files (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args()
    if args.count < 2:
        parser.error("--count must be at least 2")
    files = generate(args.out, args.count, args.seed)
    lines = sum(len(f.read_text(encoding="utf-8").splitlines()) for f in files)
    print(f"wrote {len(files)} specs in {len(files)} files ({lines / len(files):.0f} lines each on average) "
          f"to {args.out}")


if __name__ == "__main__":
    main()
