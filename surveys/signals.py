"""Events other packages subscribe to, so that nothing here imports them."""

from blinker import Namespace

_signals = Namespace()

# sender: the Response; kwargs: session, now
response_submitted = _signals.signal("response-submitted")
