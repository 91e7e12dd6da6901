"""Imported by each ``dsr worker`` process after the actors: starts its keeper thread, and
hands the interpreter over sooner between threads."""

from __future__ import annotations

import sys

from workers import keeper
from workers.broker import broker

# A thread woken by the SMTP server's 250 must run at once to commit the sent mark: with
# CPython's default 5 ms switch interval a busy sibling thread (rendering, zipping) keeps the
# interpreter that long, and the wait lies inside the send-twice window (README "Delivery
# window"). 1 ms cuts it fivefold for a switching cost well under 1 % of a core.
SWITCH_INTERVAL_S = 0.001

sys.setswitchinterval(SWITCH_INTERVAL_S)
keeper.start(broker)
