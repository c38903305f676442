"""The clrdsl grammar and prelude, shipped as package data (``clrdsl._grammar``)."""
