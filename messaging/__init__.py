"""Messages to people outside: the outbox, how a message leaves (SMTP, the dev mailbox), mail building, send
windows. Written in the transaction of what caused it, sent by the scheduler, claimed so nothing goes twice.

Packages above say what a message is about and react to it being sent: a check per message kind can withdraw a
message before it goes out (`outbox.add_withdrawal_check`), and `signals.messages_sent` announces every run of
accepted messages inside the transaction that records them.
"""
