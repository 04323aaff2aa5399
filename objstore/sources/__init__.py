"""Profile sources, one module each. Each ``load`` returns a list of profiles, reads nothing at import,
and takes its inputs (``env``, paths) as arguments. Precedence lives in :mod:`objstore.registry`."""
