"""The application: the factory, and the only place that knows every package (blueprints, signal wiring, the
scheduler's job table, the CLI, the OpenAPI document, demo data and the database gauges)."""

from __future__ import annotations

from flask import Flask, g, has_request_context, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from werkzeug.middleware.proxy_fix import ProxyFix

from app.metrics import DatabaseCollector
from kundenpuls import formatting, replica, static_files
from kundenpuls.config import ROOT, load_config
from kundenpuls.dbpool import ping_idle_connections
from kundenpuls.extensions import (
    CookielessSessionInterface,
    babel,
    compress,
    csrf,
    db,
    init_limiter,
    login_manager,
    migrate,
)
from kundenpuls.inputs import register_input_checks
from kundenpuls.observability import add_gauges, configure_logging, register_request_hooks
from kundenpuls.timeutil import render_migration_type

SUPPORTED_LOCALES = ("de", "en")


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    app.config.update(load_config(overrides))
    app.session_interface = CookielessSessionInterface()
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        (ROOT / "instance").mkdir(exist_ok=True)
    configure_logging(app)
    register_request_hooks(app)
    add_gauges(DatabaseCollector())
    if app.config["PROXY_HOPS"]:
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    register_input_checks(app)
    register_extensions(app)
    register_blueprints(app)
    register_signals()
    register_errorhandlers(app)
    register_commands(app)
    register_headers(app)
    return app


def select_locale() -> str:
    """The locale set for this work (g), else the browser's; English for work outside a request (CLI, jobs)."""
    if g.get("locale"):
        return g.locale
    return (request.accept_languages.best_match(SUPPORTED_LOCALES) if has_request_context() else None) or "en"


def register_extensions(app: Flask) -> None:
    from analytics import models as analytics_models  # noqa: F401
    from customers import models as customer_models  # noqa: F401
    from feedback import models as feedback_models  # noqa: F401
    from integrations import models as integration_models  # noqa: F401
    from kundenpuls import audit, models  # noqa: F401  (tables known to Alembic)
    from messaging import models as messaging_models  # noqa: F401
    from retention import models as retention_models  # noqa: F401
    from surveys import (
        follow_ups,  # noqa: F401
        public_models,  # noqa: F401
        rating_grid,  # noqa: F401
        widget_models,  # noqa: F401
    )
    from surveys import models as survey_models  # noqa: F401

    db.init_app(app)
    replica.init_app(app)
    with app.app_context():
        ping_idle_connections(db.engine, app.config["DB_PING_IDLE_SECONDS"])
    migrate.init_app(
        app,
        db,
        directory=str(ROOT / "migrations"),
        render_as_batch=True,
        compare_type=True,
        render_item=render_migration_type,
    )
    csrf.init_app(app)
    compress.init_app(app)
    static_files.init_app(app)
    init_limiter(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to see this page.")
    login_manager.login_message_category = "info"  # a hint, not an error: shown in the calm colour
    babel.init_app(app, locale_selector=select_locale)
    formatting.init_app(app)
    app.jinja_env.globals["get_locale"] = get_locale
    from customers.models import phase_label

    app.jinja_env.globals["phase_label"] = phase_label
    from feedback.forms import PRIORITY_LABELS

    app.jinja_env.globals["priority_labels"] = PRIORITY_LABELS


def register_blueprints(app: Flask) -> None:
    from analytics.backtest_views import bp as model_check
    from analytics.co_purchase_views import bp as basket
    from analytics.contacts_views import bp as contacts
    from analytics.importance_views import api as importance_api
    from analytics.importance_views import bp as importance
    from analytics.leaving_views import bp as leaving
    from analytics.model_views import api as models_api
    from analytics.results_views import api as results_api
    from analytics.results_views import bp as survey_results
    from analytics.views import api as analytics_api
    from analytics.views import bp as analytics
    from app.home import bp as home
    from app.openapi import bp as openapi
    from app.staff_admin import bp as staff_admin
    from customers.admin import bp as customer_admin
    from customers.import_views import bp as imports
    from customers.staff import bp as customer_staff
    from customers.views import bp as customers_api
    from feedback.contact_reason_admin import bp as contact_reason_admin
    from feedback.views import bp as feedback
    from integrations.views import bp as integrations
    from kundenpuls.auth import bp as auth
    from kundenpuls.health import bp as health
    from messaging.views import bp as messaging
    from retention.cockpit_views import api as retention_api
    from retention.views import bp as retention
    from surveys.admin import bp as survey_admin
    from surveys.api import bp as surveys_api
    from surveys.follow_up_admin import bp as follow_up_admin
    from surveys.follow_up_views import bp as follow_ups
    from surveys.link_views import bp as survey_links
    from surveys.public_admin import bp as public_admin
    from surveys.public_views import bp as public_links
    from surveys.rating_admin import bp as rating_admin
    from surveys.settings_api import bp as survey_settings_api
    from surveys.views import bp as surveys
    from surveys.widget_admin import bp as widget_admin
    from surveys.widget_views import bp as widgets

    for blueprint in (
        health,
        auth,
        home,
        staff_admin,
        customers_api,
        customer_admin,
        imports,
        customer_staff,
        surveys,
        survey_links,
        public_links,
        widgets,
        follow_ups,
        survey_admin,
        public_admin,
        widget_admin,
        follow_up_admin,
        rating_admin,
        messaging,
        feedback,
        contact_reason_admin,
        analytics,
        analytics_api,
        leaving,
        model_check,
        models_api,
        survey_results,
        results_api,
        importance,
        importance_api,
        basket,
        contacts,
        retention,
        retention_api,
        integrations,
        surveys_api,
        survey_settings_api,
        openapi,
    ):
        app.register_blueprint(blueprint)


def register_signals() -> None:
    """Packages further down the chain listen to events from those they build on, never the other way.

    The rollup also adds its two upserts to the answer statement through surveys.answer_path.add_answer_part:
    on PostgreSQL an answer and its counting then cost one round trip. Receivers that write for some answers
    (a case, a webhook event) say which through add_answer_writer, so those answers share their transaction.
    """
    from analytics import digest
    from analytics.rollup import ANSWER_PARTS
    from analytics.rollup import on_invitations_sent as count_sent
    from analytics.rollup import on_response_submitted as count_in_rollup
    from app import staff_admin
    from customers.signals import customer_churned, lifecycle_changes_removed
    from feedback import jobs as feedback_jobs
    from feedback import services as feedback_services
    from feedback.audience import due_resolved_cases, resolved_since_latest_answer
    from feedback.services import on_response_submitted as open_case
    from feedback.services import writes_for_answer as may_open_case
    from feedback.signals import case_closed, case_opened, root_cause_set
    from integrations import alerts, events
    from messaging.mail import describe_kinds
    from messaging.outbox import add_withdrawal_check
    from messaging.signals import messages_sent
    from retention.answers import on_answer_identified, pending_part
    from retention.answers import on_response_submitted as queue_for_segments
    from retention.segments import on_root_cause_set as reason_given
    from retention.suggestions import on_case_closed as settle_measure
    from surveys import mail as survey_mail
    from surveys import public_views
    from surveys.answer_path import add_answer_part, add_answer_writer
    from surveys.audience import register_condition
    from surveys.jobs import register_trigger
    from surveys.mail import SURVEY_MAIL_KINDS, on_messages_sent, withdrawn_survey_mail
    from surveys.services import on_customer_churned, on_lifecycle_changes_removed
    from surveys.signals import answer_identified, follow_ups_given, invitations_sent, response_submitted

    register_condition("after_resolved_case", resolved_since_latest_answer)
    register_trigger("case_resolved", due_resolved_cases)
    for part in (*ANSWER_PARTS, pending_part):
        add_answer_part(part)
    add_withdrawal_check(SURVEY_MAIL_KINDS, withdrawn_survey_mail)
    for module in (survey_mail, public_views, feedback_jobs, feedback_services, alerts, digest, staff_admin):
        describe_kinds(module.MAIL_KINDS)
    messages_sent.connect(on_messages_sent)
    invitations_sent.connect(count_sent)
    response_submitted.connect(count_in_rollup)
    response_submitted.connect(open_case)
    add_answer_writer(may_open_case)
    response_submitted.connect(queue_for_segments)
    answer_identified.connect(on_answer_identified)
    case_closed.connect(settle_measure)
    root_cause_set.connect(reason_given)
    customer_churned.connect(on_customer_churned)
    lifecycle_changes_removed.connect(on_lifecycle_changes_removed)
    response_submitted.connect(events.on_response_submitted)
    add_answer_writer(events.writes_for_answer)
    follow_ups_given.connect(events.on_follow_ups_given)
    case_opened.connect(events.on_case_opened)
    case_opened.connect(alerts.on_case_opened)
    case_closed.connect(events.on_case_closed)
    customer_churned.connect(events.on_customer_churned)
    register_data_rights()


def register_data_rights() -> None:
    """Each package answers for its own data in a customer's export and erasure (receivers of customers' signals)."""
    from analytics import privacy as analytics_privacy
    from customers.signals import customer_erasure, customer_export
    from feedback import privacy as feedback_privacy
    from integrations import privacy as integration_privacy
    from messaging import privacy as messaging_privacy
    from retention import privacy as retention_privacy
    from surveys import privacy as survey_privacy

    for part in (survey_privacy, messaging_privacy, feedback_privacy, analytics_privacy, retention_privacy):
        customer_export.connect(part.on_customer_export)
    for part in (
        survey_privacy, messaging_privacy, feedback_privacy, analytics_privacy, retention_privacy, integration_privacy,
    ):  # fmt: skip
        customer_erasure.connect(part.on_customer_erasure)


def register_errorhandlers(app: Flask) -> None:
    from kundenpuls.errors import register_errorhandlers as register

    register(app)


def register_commands(app: Flask) -> None:
    from app.cli import register_commands as register

    register(app)


def register_headers(app: Flask) -> None:
    production = app.config["KUNDENPULS_ENV"] == "production"

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        # Survey and unsubscribe URLs carry tokens: never leak them in a Referer.
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        )
        # Staff pages, exports, API answers and survey pages hold personal data: no browser or proxy keeps them.
        if request.endpoint != "static":
            response.headers.setdefault("Cache-Control", "no-store")
        if production:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
