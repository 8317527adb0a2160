"""The automatic call distributor: a pure engine that queues contacts and offers each to
the best free agent. See docs/acd.md for the theory of operation."""
