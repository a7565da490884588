"""Events of the feedback package, so that nothing here imports the packages that react to them."""

from blinker import Namespace

_signals = Namespace()

# sender: the Case just opened (from an answer, or a measure someone accepted); kwargs: session, now
case_opened = _signals.signal("case-opened")
# sender: the Case just resolved or closed as won't fix; kwargs: session, now
case_closed = _signals.signal("case-closed")
# sender: the Case whose root cause an agent just set; kwargs: session, now
root_cause_set = _signals.signal("root-cause-set")
