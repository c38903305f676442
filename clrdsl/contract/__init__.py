"""The plugin contract: what a function library or a backend provides, and how it is found.

``functions`` (``Shape``, ``ScaleFn``, ``Param``, the parameter kinds), ``ops`` (the
array namespace every backend supplies), ``backend`` (the ``Backend`` base and its
capabilities), ``registry`` (entry points, bundles, lazy loading, install hints) and
``_import_hooks`` (plugins imported right after their framework).
"""
