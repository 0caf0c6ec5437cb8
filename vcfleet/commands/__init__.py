"""One module per ``vcfleet`` command: ``HELP``, ``add_arguments(parser)``, ``run(args)``."""
