"""The floors for bench/submit.py (a bare Flask endpoint that does one INSERT, nothing else), bench/widget.py
(one that reads a JSON body and does one indexed SELECT) and bench/ingest.py (a JSON body, one INSERT)."""

import os

from flask import Flask, request
from sqlalchemy import create_engine, text

app = Flask(__name__)
engine = create_engine(os.environ["DATABASE_URL"], pool_size=5)


@app.post("/answer/<token>")
def answer(token: str):
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO bench_floor (token, score, comment, created_at) VALUES (:t, :s, :c, now())"),
            {"t": token, "s": int(request.form.get("score", 0)), "c": request.form.get("comment")},
        )
    return "thanks"


@app.post("/check/<key>")
def check(key: str):
    """bench/widget.py's floor: read the JSON body, one indexed SELECT, a JSON answer."""
    body = request.get_json(force=True)
    with engine.connect() as conn:
        found = conn.execute(
            text("SELECT id FROM customers WHERE external_id = :x"), {"x": body.get("customer")}
        ).scalar()
    return {"show": found is not None}


@app.post("/ingest")
def ingest():
    """bench/ingest.py's floor: read the JSON purchase, one INSERT, a JSON answer."""
    body = request.get_json(force=True)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO bench_floor (token, score, comment, created_at) VALUES (:t, 0, :c, now())"),
            {"t": body.get("order_id"), "c": body.get("category")},
        )
    return {"order_id": body.get("order_id")}, 201
