"""The floor for bench/submit.py: a bare Flask endpoint that does one INSERT, nothing else."""

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
