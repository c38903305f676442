"""The torch backend (work in progress)."""


class _Backend:
    name = "torch"
    requires = ("torch",)
    extra = "torch"

    def compile(self, checked, **options):
        raise NotImplementedError("the torch backend is not implemented yet")


backend = _Backend()
