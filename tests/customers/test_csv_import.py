"""`flask import purchases|customers FILE`: what an operator sees."""

import csv

from sqlalchemy import func, select

from customers.models import Customer, Purchase

HEADER = "order_id,customer_external_id,email,name,locale,amount,margin,currency,category,purchased_at\n"


def write(tmp_path, text, name="purchases.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def test_valid_rows_kept_bad_rows_reported_by_line(runner, session, tmp_path):
    path = write(
        tmp_path,
        HEADER
        + "A-1,K-1,anna@example.com,Anna,de,19.90,5,EUR,Bücher,2026-10-01T10:00:00Z\n"
        + "A-2,K-2,not-an-email,Bob,en,10,,EUR,,2026-10-01\n"
        + "A-3,K-3,carl@example.com,Carl,en,-4,,EUR,,2026-10-01\n"
        + "A-4,K-1,anna@example.com,Anna,de,5.00,,EUR,Bücher,2026-10-03 12:00\n"
        + "A-5,K-5,dora@example.com,Dora,de,12.00,,EUR,,not a date\n",
    )
    result = runner.invoke(args=["import", "purchases", str(path)])
    assert result.exit_code == 1
    assert "5 rows: 2 created, 0 already known, 3 failed" in result.output
    assert "line 3: customer.email" in result.output
    assert "line 4: amount" in result.output
    assert "line 6: purchased_at" in result.output
    assert count(session, Purchase) == 2 and count(session, Customer) == 1
    with (tmp_path / "purchases.csv.errors.csv").open(encoding="utf-8") as handle:
        failed = list(csv.DictReader(handle))
    assert [(row["line"], row["order_id"]) for row in failed] == [("3", "A-2"), ("4", "A-3"), ("6", "A-5")]
    assert all(row["error"] for row in failed)


def test_reimport_creates_nothing_twice(runner, session, tmp_path):
    path = write(
        tmp_path,
        HEADER
        + "A-1,K-1,anna@example.com,Anna,de,19.90,,EUR,,2026-10-01\n"
        + "A-2,K-2,bob@example.com,Bob,en,10,,EUR,,2026-10-02\n",
    )
    assert runner.invoke(args=["import", "purchases", str(path)]).exit_code == 0
    result = runner.invoke(args=["import", "purchases", str(path)])
    assert result.exit_code == 0
    assert "2 rows: 0 created, 2 already known, 0 failed" in result.output
    assert count(session, Purchase) == 2


def test_wrong_header_imports_nothing(runner, session, tmp_path):
    path = write(tmp_path, "order,customer,amount\nA-1,K-1,10\n")
    result = runner.invoke(args=["import", "purchases", str(path)])
    assert result.exit_code == 1
    assert "wrong header" in result.output
    assert "missing column(s): order_id, customer_external_id, email, purchased_at" in result.output
    assert "unknown column(s): order, customer" in result.output
    assert count(session, Purchase) == 0


def test_broken_rows_with_too_many_or_too_few_cells(runner, session, tmp_path):
    path = write(
        tmp_path,
        HEADER
        + "A-1,K-1,anna@example.com,Anna,de,19.90,,EUR,,2026-10-01,extra\n"
        + "A-2,K-2,bob@example.com\n"
        + "A-3,K-3,carl@example.com,Carl,en,3,,EUR,,2026-10-01\n",
    )
    result = runner.invoke(args=["import", "purchases", str(path)])
    assert "line 2: the row has more cells" in result.output
    assert "line 3: the row has fewer cells" in result.output
    assert session.scalars(select(Purchase.order_id)).all() == ["A-3"]


def test_german_excel_export_with_semicolons_and_decimal_commas(runner, session, tmp_path):
    text = (
        "order_id;customer_external_id;email;amount;purchased_at\n"
        "B-1;K-9;erika@example.de;1.234,56;2026-09-30T08:00:00+02:00\n"
    )
    path = tmp_path / "export.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))  # with a BOM, as Excel writes it
    result = runner.invoke(args=["import", "purchases", str(path)])
    assert result.exit_code == 0, result.output
    purchase = session.scalars(select(Purchase)).one()
    assert str(purchase.amount) == "1234.56"
    assert purchase.purchased_at.isoformat() == "2026-09-30T06:00:00+00:00"


def test_customers_import_creates_and_updates(runner, session, tmp_path):
    path = write(
        tmp_path,
        "external_id,email,name,locale,timezone\nK-1,anna@example.com,Anna,de,Europe/Vienna\n"
        "K-2,bob@example.com,Bob,en-GB,\nK-3,carl@example.com,Carl,xx,\n",
        "customers.csv",
    )
    result = runner.invoke(args=["import", "customers", str(path)])
    assert "3 rows: 2 created, 0 already known, 1 failed" in result.output
    assert "line 4: locale" in result.output
    path.write_text("external_id,email,name\nK-1,anna.neu@example.com,Anna N.\n", encoding="utf-8")
    result = runner.invoke(args=["import", "customers", str(path)])
    assert "1 rows: 0 created, 1 already known" in result.output
    anna = session.scalars(select(Customer).where(Customer.external_id == "K-1")).one()
    assert (anna.email, anna.name, anna.timezone) == ("anna.neu@example.com", "Anna N.", "Europe/Vienna")
