"""The semantic model: the checked meaning of a schedule that every backend evaluates.

``model`` holds the frozen model nodes, the one walk over them (``children``, ``walk``,
``timed_walk``), the plateau clocks with their windows, and ``CheckedSchedule``.
"""
