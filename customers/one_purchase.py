"""One purchase in one statement (PostgreSQL): the single API call's common case, a new order of a customer who is
new or known and not erased, sent with a valid API key.

`bulk.store_purchases` answers every case in a handful of statements per batch, which a batch of a thousand
shares and a single call pays alone: 11 round trips, about 7 ms. Here one statement checks the API key and the
order, creates or refreshes the customer (bulk.apply_contact's rules, in SQL) and stores the purchase; it returns
what the response body, the lifecycle recompute and the replay check need (the customer's contact data, the rules,
the customer's latest recorded phase change), so the call costs BEGIN, this statement, the recompute and COMMIT.
Whatever else happens (the key is unknown or revoked, the order is known, the customer erased, a concurrent request
stored the order meanwhile) the statement writes nothing that matters and returns no row, and the caller looks the
key up (`apiauth.authenticate`) and takes `store_purchases`.
"""

from __future__ import annotations

import functools
from datetime import datetime
from types import SimpleNamespace

from sqlalchemy import TextClause, and_, bindparam, case, cast, exists, func, literal, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from customers.bulk import CREATED, Outcome
from customers.history import may_rewrite, rebuild_histories
from customers.lifecycle import RuleSet, current_rules, recompute_phases
from customers.models import Customer, LifecycleChange, LifecycleRules, Purchase
from customers.schemas import PurchaseIn
from kundenpuls.dbpool import first_statement
from kundenpuls.dialect import is_postgresql, postgresql_text
from kundenpuls.models import ApiKey

_CONTACT = ("email", "name", "locale", "timezone", "potential")


def _param(name: str, column):
    """A bound parameter of a column's type, cast in SQL: PostgreSQL cannot infer the type of one that is only
    compared with NULL."""
    return cast(bindparam(name, type_=column.type), column.type)


def _default(column):
    """The model's default of a column, as a value in the statement (the ORM fills it in only on its own inserts)."""
    return literal(column.default.arg, column.type)


def _statement():
    """Built once: the key and order checks, the customer upsert and the purchase INSERT in CTEs, then what they
    returned."""
    customers, purchases = Customer.__table__, Purchase.__table__
    p = {
        "external_id": _param("external_id", customers.c.external_id),
        "email": _param("email", customers.c.email),
        "name": _param("name", customers.c.name),
        "locale": _param("locale", customers.c.locale),
        "timezone": _param("timezone", customers.c.timezone),
        "potential": _param("potential", customers.c.potential_value),
        "now": _param("now", customers.c.created_at),
        "order_id": _param("order_id", purchases.c.order_id),
        "amount": _param("amount", purchases.c.amount),
        "margin": _param("margin", purchases.c.margin),
        "currency": _param("currency", purchases.c.currency),
        "category": _param("category", purchases.c.category),
        "purchased_at": _param("purchased_at", purchases.c.purchased_at),
        "key_hash": _param("key_hash", ApiKey.__table__.c.key_hash),
    }
    known = exists().where(purchases.c.order_id == p["order_id"])
    key_valid = exists().where(ApiKey.key_hash == p["key_hash"], ApiKey.revoked_at.is_(None))
    new_customer = select(
        p["external_id"],
        p["now"],
        p["email"],
        p["name"],
        func.coalesce(p["locale"], _default(customers.c.locale)),
        p["timezone"],
        p["potential"],
        _default(customers.c.lifecycle_phase),
        _default(customers.c.purchase_count),
    ).where(~known, key_valid)
    # bulk.apply_contact: a new address clears the mark of an undeliverable old one; fields left out stay.
    new_email = and_(
        p["email"].is_not(None), func.lower(p["email"]) != func.lower(func.coalesce(customers.c.email, ""))
    )
    customer = (
        postgresql.insert(customers)
        .from_select(
            [
                "external_id",
                "created_at",
                "email",
                "name",
                "locale",
                "timezone",
                "potential_value",
                "lifecycle_phase",
                "purchase_count",
            ],
            new_customer,
        )
        .on_conflict_do_update(
            index_elements=["external_id"],
            set_={
                "email": case((new_email, p["email"]), else_=customers.c.email),
                "email_invalid_at": case((new_email, None), else_=customers.c.email_invalid_at),
                "email_invalid_reason": case((new_email, None), else_=customers.c.email_invalid_reason),
                "name": func.coalesce(p["name"], customers.c.name),
                "locale": func.coalesce(p["locale"], customers.c.locale),
                "timezone": func.coalesce(p["timezone"], customers.c.timezone),
                "potential_value": func.coalesce(p["potential"], customers.c.potential_value),
            },
            where=customers.c.erased_at.is_(None),
        )
        .returning(customers.c.id, customers.c.external_id, customers.c.email, customers.c.name, customers.c.locale)
        .cte("customer")
    )
    purchase = (
        postgresql.insert(purchases)
        .from_select(
            ["order_id", "customer_id", "amount", "margin", "currency", "category", "purchased_at", "created_at"],
            select(
                p["order_id"],
                customer.c.id,
                p["amount"],
                p["margin"],
                p["currency"],
                p["category"],
                p["purchased_at"],
                p["now"],
            ),
        )
        .on_conflict_do_nothing(index_elements=["order_id"])
        .returning(purchases.c.id, purchases.c.customer_id)
        .cte("purchase")
    )
    rules = LifecycleRules.__table__

    def rule(name: str):
        return select(rules.c[name]).where(rules.c.id == 1).scalar_subquery().label(name)

    latest_change = (
        select(func.max(LifecycleChange.changed_at))
        .where(LifecycleChange.customer_id == customer.c.id)
        .scalar_subquery()
        .label("latest_change")
    )
    return select(
        purchase.c.id.label("purchase_id"),
        customer.c.id,
        customer.c.external_id,
        customer.c.email,
        customer.c.name,
        customer.c.locale,
        rule("new_until_purchases"),
        rule("new_for_days"),
        rule("inactive_after_days"),
        latest_change,
    ).join_from(purchase, customer, customer.c.id == purchase.c.customer_id)


@functools.cache
def _compiled() -> TextClause:
    return postgresql_text(_statement())


def store_one(session: Session, item: PurchaseIn, now: datetime, key_hash: str) -> Outcome | None:
    """Store a new order in one statement and move the customer's phase, if `key_hash` is an API key's, known and
    not revoked; None where the caller must check the key and `store_purchases` answer (SQLite, an unknown key, a
    known order, an erased customer, a race). The request's first statement. Flushes nothing of its own; the
    caller commits."""
    if not is_postgresql(session):
        return None  # SQLite runs in the process: the statements of store_purchases cost no round trips
    contact = item.customer
    params = {name: getattr(contact, name) for name in _CONTACT}
    params.update(
        external_id=contact.external_id,
        now=now,
        order_id=item.order_id,
        amount=item.amount,
        margin=item.margin,
        currency=item.currency,
        category=item.category,
        purchased_at=item.purchased_at,
        key_hash=key_hash,
    )
    row = first_statement(session, lambda: session.execute(_compiled(), params).one_or_none())
    if row is None:
        return None
    if row.new_until_purchases is None:  # a database without its rules row: current_rules creates it
        rules = current_rules(session)
    else:
        rules = RuleSet(row.new_until_purchases, row.new_for_days, row.inactive_after_days)
    recompute_phases(session, now, "purchase", [row.id], rules)
    if may_rewrite(rules, now, item.purchased_at, row.latest_change):
        rebuild_histories(session, rules, now, [row.id])
    customer = SimpleNamespace(external_id=row.external_id, email=row.email, name=row.name, locale=row.locale)
    return Outcome(item.order_id, CREATED, row.purchase_id, customer)
