"""The operator console: a Textual application for pre-meeting readiness sweeps.

``ConsoleApp`` (``tui.app``) shows the fleet's readiness, a tree of units, a table
of endpoints that updates live during a sweep, a details screen per endpoint and
the readiness report export.  It talks to vcfleet only through the sweep engine,
the report types, the history store and the report renderer.
"""
