"""Contact-center figures, defined once: the metrics fold over interaction-log events and
its additive cells (``fold``, ``cells``), the simulator's hand-fed counts (``tally``) and
the interval forecast that staffing reads (``forecast``). Pure: only ``callcenter.core``
and the standard library; the supervisor's pages and the simulator both read them."""
