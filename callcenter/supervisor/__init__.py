"""Supervisors: the live wallboard, actions, reports, metrics and staffing."""
