"""The demo's model: a small 1-D convolutional network for MNIST-1D (40 samples in, 10 classes)."""

from __future__ import annotations

CHANNELS = 32


def make_cnn(channels: int = CHANNELS):
    """Three strided convolutions (40 -> 20 -> 10 -> 5 positions) and a linear classifier.

    About 9,000 parameters; one update of a batch of 100 takes about a millisecond on
    one CPU thread.
    """
    import torch.nn as nn

    c = channels
    return nn.Sequential(
        nn.Unflatten(1, (1, -1)),
        nn.Conv1d(1, c, 5, stride=2, padding=2), nn.ReLU(),
        nn.Conv1d(c, c, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv1d(c, c, 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(c * 5, 10),
    )


def make_keras_cnn(channels: int = CHANNELS, length: int = 40):
    """The same network in Keras (channels last), uncompiled."""
    import keras

    c = channels
    return keras.Sequential([
        keras.Input((length,)),
        keras.layers.Reshape((length, 1)),
        keras.layers.Conv1D(c, 5, strides=2, padding="same", activation="relu"),
        keras.layers.Conv1D(c, 3, strides=2, padding="same", activation="relu"),
        keras.layers.Conv1D(c, 3, strides=2, padding="same", activation="relu"),
        keras.layers.Flatten(), keras.layers.Dense(10),
    ])
