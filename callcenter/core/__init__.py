"""Pure building blocks shared by every engine: ids, clocks, causal context, errors.

Nothing in this package performs I/O, reads the system clock through ``time`` or draws
randomness through ``random``/``uuid``; the engines in ``acd/`` and ``ivr/`` rely on that.
"""
