"""Events of the customers package, so that nothing here imports the packages that react to them."""

from blinker import Namespace

_signals = Namespace()

# sender: the Customer who just turned "churned" (a reported cancellation); kwargs: session, now
customer_churned = _signals.signal("customer-churned")
