"""Events of the customers package, so that nothing here imports the packages that react to them."""

from blinker import Namespace

_signals = Namespace()

# sender: the Customer who just turned "churned" (a reported cancellation); kwargs: session, now
customer_churned = _signals.signal("customer-churned")

# sender: the Customer whose data is exported (GDPR Art. 15/20); kwargs: session. Each receiver returns a dict of
# sections ({"responses": [...], ...}) from its own tables.
customer_export = _signals.signal("customer-export")
# sender: the Customer about to be erased (GDPR Art. 17), still with name, email and external id; kwargs: session,
# now. Each receiver removes personal data and free text from its own tables in the caller's transaction, keeps
# what statistics need (scores, amounts, dates) and returns {what: rows changed}.
customer_erasure = _signals.signal("customer-erasure")
# sender: None; kwargs: session, change_ids. Lifecycle changes a history replay found wrong are about to be deleted
# (customers/history.py): receivers drop their links to them in the caller's transaction.
lifecycle_changes_removed = _signals.signal("lifecycle-changes-removed")
