"""The offline demo: MNIST-1D, a small CNN, a range test and the CLR policies compared."""
