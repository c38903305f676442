"""The keras backend (work in progress)."""


class _Backend:
    name = "keras"
    requires = ("keras",)
    extra = "keras"

    def compile(self, checked, **options):
        raise NotImplementedError("the keras backend is not implemented yet")


backend = _Backend()
