"""The offline demo: MNIST-1D, a small CNN, a range test and the CLR policies compared.

``clrdsl demo`` runs :func:`clrdsl_demo.experiment.run` and prints
:func:`clrdsl_demo.table.report`. Modules: ``data`` (the MNIST-1D generator, NumPy
only), ``model`` (the CNN, torch and Keras), ``train`` (one run driven by a clrdsl
expression), ``experiment`` (the protocol, in parallel processes), ``table`` (the
table, the verdict, the plots), ``cli`` (the two commands, registered in the
``clrdsl.commands`` entry-point group). See docs/demo.md.
"""

__version__ = "0.1.0"
