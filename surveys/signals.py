"""Events other packages subscribe to, so that nothing here imports them."""

from blinker import Namespace

_signals = Namespace()

# sender: the stored Response (a detached copy of the row); kwargs: session, now, and kind (the survey's, when the
# answer statement returned it). A receiver that writes registers
# a check with surveys.answer_path.add_answer_writer: on PostgreSQL an answer no check claims is already committed.
response_submitted = _signals.signal("response-submitted")
# sender: None; kwargs: session, invitation_ids (first mails just accepted by SMTP, now marked sent), now
invitations_sent = _signals.signal("invitations-sent")
# sender: the response id; kwargs: session, now. Its follow-up answers were just stored (in the session's
# transaction), after the score: webhooks send them as response.follow_ups.
follow_ups_given = _signals.signal("follow-ups-given")
# sender: the Response of an anonymous answer just tied to the customer who confirmed their address; kwargs: session,
# now. Its customer's segment takes it in like any answer.
answer_identified = _signals.signal("answer-identified")
