"""Runtime: single-writer drivers around the pure engines, command dispatch, event buses."""
