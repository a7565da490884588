"""Events of the messaging package, so that nothing here imports the packages that react to them."""

from blinker import Namespace

_signals = Namespace()

# sender: None; kwargs: session, rows (the outbox rows just accepted by the server: id, kind, invitation_id,
# customer_id, ...), now. Sent inside the transaction that records them as sent: receivers record what the sending
# means to them (surveys: the invitation was mailed) and may not commit.
messages_sent = _signals.signal("messages-sent")
